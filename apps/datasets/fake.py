"""Realistic, varied customer-support tickets for benchmarks and demos (no model needed).

Labels are skewed like real support queues: a few very common ones and a long tail, so
label filters are measured on both common and rare labels.
"""

import random
from collections.abc import Iterator

LABEL_WEIGHTS = {
    "billing": 25,
    "shipping": 22,
    "technical": 18,
    "account": 14,
    "refund": 10,
    "product_question": 6.9,
    "feedback": 3,
    "cancellation": 1,
    "legal": 0.1,
}
TEMPLATES = {
    "billing": [
        "I was charged {amount} twice on my {card} card for order {order}. Please fix it.",
        "The invoice for order {order} shows {amount} but checkout said less. Why?",
        "My plan renewed on {weekday} and billed {amount}, although I downgraded.",
        "Could you send a VAT invoice for order {order}? Our accounting team in {city} needs it.",
        "There is an unknown charge of {amount} on my statement referencing order {order}.",
    ],
    "shipping": [
        "Order {order} was due {days} days ago and tracking has not moved since {weekday}.",
        "The courier left my parcel for order {order} at the wrong address in {city}.",
        "Do you ship to {city}? I want to know delivery times before I place a large order.",
        "Late delivery again: order {order} is {days} days overdue, I need the {product}.",
        "The box for order {order} arrived crushed and the {product} inside rattles.",
    ],
    "technical": [
        "The {product} app crashes every time I open settings after the last update.",
        "Since {weekday} my {product} keeps disconnecting from wifi every few minutes.",
        "I get error {code} when syncing the {product} with my laptop. Restarting did not help.",
        "The firmware update on my {product} stopped at 80% and now the screen stays black.",
        "Bluetooth pairing with the {product} fails on Android, it works on my partner's phone.",
    ],
    "account": [
        "I cannot log in since the password reset on {weekday}; the reset email never arrives.",
        "Please change the email on my account, I no longer use the old address (order {order}).",
        "My account got locked after two-factor codes stopped working on my new phone.",
        "How do I merge two accounts? I ordered {order} with the wrong one.",
        "Someone changed my shipping address without my consent, please secure my account.",
    ],
    "refund": [
        "I returned the {product} from order {order} {days} days ago and still have no refund.",
        "Please refund order {order}; the {product} does not match the description.",
        "You promised a refund of {amount} by {weekday} but nothing has reached my {card} card.",
        "Can I get a partial refund for order {order}? One item was missing from the box.",
    ],
    "product_question": [
        "Is the {product} compatible with the model I bought last year?",
        "What is the battery life of the {product} when used outdoors in the cold?",
        "Does the {product} come with a charger, or do I need to buy one for order {order}?",
        "Will the {product} be back in stock before {weekday}? I want to order three.",
    ],
    "feedback": [
        "Just wanted to say the support agent on {weekday} was fantastic, order {order} is sorted.",
        "The new {product} is great, but the packaging could use less plastic.",
        "Your checkout is much faster now, thanks for listening to feedback from {city}.",
    ],
    "cancellation": [
        "Please cancel order {order} before it ships, I ordered the wrong {product}.",
        "I want to cancel my subscription at the end of this billing period.",
    ],
    "legal": [
        "I am filing a chargeback with my bank over order {order} unless fixed by {weekday}.",
        "Our lawyer in {city} will contact you about the data you hold on me (order {order}).",
    ],
}
SLOTS = {
    "product": [
        "headphones",
        "smart watch",
        "e-reader",
        "router",
        "robot vacuum",
        "kettle",
        "tablet",
        "speaker",
        "camera",
        "thermostat",
        "keyboard",
        "monitor",
    ],
    "city": ["Lyon", "Leeds", "Porto", "Austin", "Osaka", "Berlin", "Toronto", "Gdansk"],
    "weekday": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"],
    "card": ["Visa", "Mastercard", "Amex", "debit"],
}
OPENERS = ["", "Hi, ", "Hello team, ", "Good morning. ", "Hey there, ", "Dear support, "]
CLOSERS = [
    "",
    " Thanks.",
    " Please advise.",
    " Regards, {name}.",
    " Thank you in advance!",
    " This is urgent.",
    " Cheers, {name}.",
]
NAMES = ["Ana", "Tom", "Priya", "Kenji", "Maria", "Olu", "Sven", "Lea", "Omar", "Chloe"]


def tickets(rows: int, seed: int = 0, start: int = 0) -> Iterator[tuple[str, str]]:
    """(text, label) pairs; each text carries a distinct order number, so none repeats."""
    rng = random.Random(seed)
    labels = list(LABEL_WEIGHTS)
    weights = list(LABEL_WEIGHTS.values())
    for i in range(start, start + rows):
        label = rng.choices(labels, weights)[0]
        template = rng.choice(TEMPLATES[label])
        order = f"#{1_000_000 + i}"
        values = {
            "order": order,
            "amount": f"€{rng.randint(5, 900)}.{rng.randint(0, 99):02d}",
            "days": rng.randint(2, 21),
            "code": f"E{rng.randint(100, 999)}",
            "name": rng.choice(NAMES),
            **{slot: rng.choice(options) for slot, options in SLOTS.items()},
        }
        text = (
            rng.choice(OPENERS) + template.format(**values) + rng.choice(CLOSERS).format(**values)
        )
        if order not in text:
            text += f" (ref {order})"
        yield text, label
