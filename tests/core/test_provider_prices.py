"""Prices of a provider's models: set, changed and removed on the provider's page (htmx)
and through the API, by editors only, with bad values refused naming the field."""

import re
from decimal import Decimal

import pytest
from django.test import Client

from apps.core.models import ModelPrice, Role
from tests.factories import MembershipFactory, ProviderFactory, api_key_for
from tests.fakes.openai_server import MODELS

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def provider(owner):
    return ProviderFactory(project=owner.project, name="vllm", default_model="llama-3-8b")


@pytest.fixture
def viewer(owner):
    return MembershipFactory(project=owner.project, role=Role.VIEWER)


@pytest.fixture
def viewer_client(viewer) -> Client:
    client = Client()
    client.force_login(viewer.user)
    return client


def prices(provider) -> dict[str, tuple[Decimal, Decimal]]:
    return {
        p.model: (p.input_per_million, p.output_per_million)
        for p in ModelPrice.objects.filter(provider=provider)
    }


def row(page: str, model: str) -> str:
    """The Prices table's row of `model`."""
    match = re.search(rf'<tr id="price-\d+" data-model="{re.escape(model)}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {model}"
    return match.group(1)


# --- the page ------------------------------------------------------------------------


def test_a_model_without_a_price_says_so(owner_client, provider):
    page = owner_client.get(f"/providers/{provider.pk}/").content.decode()
    assert "Prices" in page
    assert "no price set" in row(page, "llama-3-8b")  # the default model, still unpriced
    listing = owner_client.get("/providers/").content.decode()
    assert "no price set" in listing


def test_an_editor_sets_changes_and_removes_a_price_with_htmx(owner_client, provider):
    url = f"/providers/{provider.pk}/prices/"
    new = {"model": "gpt-4o-mini", "input_per_million": "0.15", "output_per_million": "0.6"}
    response = owner_client.post(url, new, **HTMX)
    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<section id="prices"')  # the table only, no page
    assert "<html" not in fragment
    assert "Price of gpt-4o-mini saved." in fragment
    assert 'value="0.15"' in row(fragment, "gpt-4o-mini")
    assert prices(provider) == {"gpt-4o-mini": (Decimal("0.15"), Decimal("0.6"))}

    # Changed from its row; `vllm/…` (the id run pages show) is the same model.
    change = {"model": "vllm/gpt-4o-mini", "input_per_million": "0.2", "output_per_million": "0.8"}
    fragment = owner_client.post(url, change, **HTMX).content.decode()
    assert 'value="0.2"' in row(fragment, "gpt-4o-mini")
    assert prices(provider) == {"gpt-4o-mini": (Decimal("0.2"), Decimal("0.8"))}

    # The default model's "no price set" row takes a price too.
    default = {"model": "llama-3-8b", "input_per_million": "0", "output_per_million": "0"}
    fragment = owner_client.post(url, default, **HTMX).content.decode()
    assert "no price set" not in row(fragment, "llama-3-8b")
    assert prices(provider)["llama-3-8b"] == (0, 0)  # free, said explicitly

    removed = owner_client.post(f"{url}delete/", {"model": "gpt-4o-mini"}, **HTMX)
    fragment = removed.content.decode()
    assert "Price of gpt-4o-mini removed." in fragment
    assert 'data-model="gpt-4o-mini"' not in fragment
    assert set(prices(provider)) == {"llama-3-8b"}

    listing = owner_client.get("/providers/").content.decode()
    assert "$0.00 in · $0.00 out per M" in listing


def test_without_htmx_the_add_form_works_as_a_plain_form(owner_client, provider):
    url = f"/providers/{provider.pk}/prices/"
    new = {"model": "big", "input_per_million": "3", "output_per_million": "15"}
    response = owner_client.post(url, new)
    assert response.status_code == 302
    assert response["Location"] == f"/providers/{provider.pk}/"
    page = owner_client.get(response["Location"]).content.decode()
    assert "Price of big saved." in page
    assert 'value="3"' in row(page, "big") and 'value="15"' in row(page, "big")


BAD_VALUES = [
    ("-1", "Input price cannot be negative: give 0 to 10,000."),
    ("10000.0001", "Input price is at most 10,000 dollars per million tokens."),
    ("10001", "Input price is at most 10,000 dollars per million tokens."),
    ("1" + "0" * 30, "Input price is at most 10,000 dollars per million tokens."),
    ("1e30", "Input price is at most 10,000 dollars per million tokens."),
    ("0.00001", "Input price has at most 4 decimal places."),
    ("three", "Input price must be a number of dollars per million tokens"),
    ("NaN", "Input price must be a number of dollars per million tokens"),
    ("Infinity", "Input price must be a number of dollars per million tokens"),
    ("1\x00", "Input price must be a number of dollars per million tokens"),
    ("", "Input price is required; give 0 for a free model."),
]


@pytest.mark.parametrize(("value", "message"), BAD_VALUES)
def test_bad_prices_are_shown_inline_naming_the_field_and_limit(
    owner_client, provider, value, message
):
    new = {"model": "m", "input_per_million": value, "output_per_million": "1"}
    response = owner_client.post(f"/providers/{provider.pk}/prices/", new, **HTMX)
    assert response.status_code == 200
    fragment = response.content.decode()
    errors = re.findall(
        r'<small class="error" id="id_new_price_(\w+)_error"[^>]*>(.*?)</small>', fragment
    )
    assert len(errors) == 1, errors  # one message, at the field
    field, text = errors[0]
    assert field == "input_per_million" and message in text
    assert 'aria-invalid="true"' in fragment
    assert prices(provider) == {}


def test_a_bad_change_is_shown_in_the_models_own_row(owner_client, provider):
    url = f"/providers/{provider.pk}/prices/"
    owner_client.post(url, {"model": "m", "input_per_million": "1", "output_per_million": "2"})
    bad = {"model": "m", "input_per_million": "1", "output_per_million": "-2"}
    fragment = owner_client.post(url, bad, **HTMX).content.decode()
    mine = row(fragment, "m")
    assert "Output price cannot be negative" in mine and 'value="-2"' in mine
    assert prices(provider) == {"m": (1, 2)}


def test_bad_model_names_are_shown_inline(owner_client, provider):
    url = f"/providers/{provider.pk}/prices/"
    for name, message in [
        ("", "Give the model&#x27;s name"),
        ("x" * 201, "A model name is at most 200 characters."),
        ("bad\x00name", "The model name cannot contain a NUL character."),
    ]:
        values = {"model": name, "input_per_million": "1", "output_per_million": "1"}
        fragment = owner_client.post(url, values, **HTMX).content.decode()
        assert 'id="id_new_price_model_error"' in fragment and message in fragment, name
    assert prices(provider) == {}
    # Removing a name that cannot exist is not an error either.
    gone = owner_client.post(f"{url}delete/", {"model": "bad\x00name"}, **HTMX)
    assert gone.status_code == 200


def test_a_viewer_sees_prices_read_only_and_cannot_change_them(owner, viewer_client, provider):
    ModelPrice.objects.create(
        provider=provider, model="m", input_per_million=3, output_per_million=Decimal("15.5")
    )
    page = viewer_client.get(f"/providers/{provider.pk}/").content.decode()
    mine = row(page, "m")
    assert "3.00" in mine and "15.50" in mine
    assert "<input" not in page.split('id="prices"')[1]  # nothing to type into
    assert "Add price" not in page and "Remove" not in page and "Edit provider" not in page
    assert "no price set" in row(page, "llama-3-8b")

    url = f"/providers/{provider.pk}/prices/"
    new = {"model": "m", "input_per_million": "0", "output_per_million": "0"}
    assert viewer_client.post(url, new, **HTMX).status_code == 403
    assert viewer_client.post(f"{url}delete/", {"model": "m"}, **HTMX).status_code == 403
    assert viewer_client.get(f"/providers/{provider.pk}/models/").status_code == 403
    assert prices(provider) == {"m": (3, Decimal("15.5"))}


def test_another_projects_provider_is_404_on_the_pages(owner_client):
    other = ProviderFactory(project=MembershipFactory().project, name="theirs")
    ModelPrice.objects.create(provider=other, model="m", input_per_million=1, output_per_million=1)
    new = {"model": "m", "input_per_million": "0", "output_per_million": "0"}
    assert owner_client.get(f"/providers/{other.pk}/").status_code == 404
    assert owner_client.post(f"/providers/{other.pk}/prices/", new).status_code == 404
    deleted = owner_client.post(f"/providers/{other.pk}/prices/delete/", {"model": "m"})
    assert deleted.status_code == 404
    assert owner_client.get(f"/providers/{other.pk}/models/").status_code == 404
    assert prices(other) == {"m": (1, 1)}


def test_the_model_field_offers_the_models_the_provider_lists(
    owner_client, owner, fake_openai, allow_loopback
):
    provider = ProviderFactory(project=owner.project, base_url=fake_openai.base_url)
    page = owner_client.get(f"/providers/{provider.pk}/").content.decode()
    assert f'list="model-options-{provider.pk}"' in page
    assert f'hx-get="/providers/{provider.pk}/models/"' in page
    options = owner_client.get(f"/providers/{provider.pk}/models/", **HTMX).content.decode()
    assert re.findall(r'<option value="([^"]+)">', options) == MODELS


# --- the API -------------------------------------------------------------------------


def api(key: str, method: str, url: str, body=None):
    return getattr(Client(), method)(url, body, content_type="application/json", HTTP_X_API_KEY=key)


def test_the_provider_api_shows_prices_and_capabilities(owner_key, provider):
    ModelPrice.objects.create(
        provider=provider, model="m", input_per_million=3, output_per_million=15
    )
    body = api(owner_key, "get", f"/api/v1/providers/{provider.pk}/").json()
    assert body["prices"] == [
        {
            "model": "m",
            "input_per_million": "3.0000",
            "output_per_million": "15.0000",
            "updated_at": body["prices"][0]["updated_at"],
        }
    ]
    assert (body["thinking"], body["supports_tools"]) == ("none", False)  # the factory's row
    listed = api(owner_key, "get", "/api/v1/providers/").json()
    assert next(p for p in listed if p["id"] == provider.pk)["prices"] == body["prices"]


def test_an_editor_sets_changes_and_removes_prices_through_the_api(owner_key, provider):
    url = f"/api/v1/providers/{provider.pk}/prices/"
    response = api(
        owner_key, "put", f"{url}gpt-4o/", {"input_per_million": 2.5, "output_per_million": "10"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["input_per_million"] == "2.5000"
    # A model name with a slash, percent-encoded in the path.
    response = api(
        owner_key,
        "put",
        f"{url}meta-llama%2FLlama-3.1-8B/",
        {"input_per_million": "0.1", "output_per_million": "0.1"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["model"] == "meta-llama/Llama-3.1-8B"
    assert api(owner_key, "get", f"{url}meta-llama%2FLlama-3.1-8B/").json()["model"] == (
        "meta-llama/Llama-3.1-8B"
    )
    response = api(
        owner_key, "put", f"{url}gpt-4o/", {"input_per_million": 3, "output_per_million": 12}
    )
    assert response.status_code == 200
    assert prices(provider)["gpt-4o"] == (3, 12)
    assert [p["model"] for p in api(owner_key, "get", url).json()] == [
        "gpt-4o",
        "meta-llama/Llama-3.1-8B",
    ]

    assert api(owner_key, "delete", f"{url}gpt-4o/").status_code == 204
    assert api(owner_key, "delete", f"{url}gpt-4o/").status_code == 404
    assert api(owner_key, "get", f"{url}gpt-4o/").status_code == 404
    assert set(prices(provider)) == {"meta-llama/Llama-3.1-8B"}


def test_patch_replaces_all_prices_and_post_creates_them(owner_key, owner, monkeypatch):
    monkeypatch.setattr("apps.core.services.check_provider_url", lambda url: None)
    new = {
        "name": "claude",
        "kind": "anthropic",
        "base_url": "https://api.anthropic.com",
        "prices": [{"model": "claude-sonnet", "input_per_million": 3, "output_per_million": 15}],
    }
    created = api(owner_key, "post", "/api/v1/providers/", new)
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["thinking"], body["supports_tools"]) == ("anthropic", True)  # by kind
    assert [p["model"] for p in body["prices"]] == ["claude-sonnet"]

    url = f"/api/v1/providers/{body['id']}/"
    patch = {
        "prices": [
            {"model": "claude-haiku", "input_per_million": "0.8", "output_per_million": "4"},
            {"model": "claude/claude-sonnet", "input_per_million": 3, "output_per_million": 15},
        ],
        "supports_tools": False,
        "thinking": "none",
    }
    body = api(owner_key, "patch", url, patch).json()
    assert [(p["model"], p["input_per_million"]) for p in body["prices"]] == [
        ("claude-haiku", "0.8000"),
        ("claude-sonnet", "3.0000"),
    ]
    assert (body["thinking"], body["supports_tools"]) == ("none", False)
    # Without `prices`, a PATCH keeps them; an empty list removes them all.
    assert len(api(owner_key, "patch", url, {"default_model": "x"}).json()["prices"]) == 2
    assert api(owner_key, "patch", url, {"prices": []}).json()["prices"] == []

    twice = {"prices": [{"model": "a", "input_per_million": 1, "output_per_million": 1}] * 2}
    response = api(owner_key, "patch", url, twice)
    assert response.status_code == 400
    assert "listed twice" in response.json()["prices"][0]


def test_a_refused_price_creates_no_provider(owner_key, owner, monkeypatch):
    monkeypatch.setattr("apps.core.services.check_provider_url", lambda url: None)
    new = {
        "name": "half",
        "kind": "openai",
        "base_url": "https://api.example.com/v1",
        "prices": [{"model": "a", "input_per_million": 1, "output_per_million": 1}] * 2,
    }
    assert api(owner_key, "post", "/api/v1/providers/", new).status_code == 400
    assert not owner.project.providers.filter(name="half").exists()


API_BAD_VALUES = [
    (-1, "cannot be negative"),
    ("-0.5", "cannot be negative"),
    (10000.5, "at most 10,000"),
    (10**30, "at most 10,000"),
    ("1e30", "at most 10,000"),
    (0.00001, "at most 4 decimal places"),
    ("1.23456", "at most 4 decimal places"),
    ("three", "must be a number"),
    ("NaN", "must be a number"),
    ("1\x00", "NUL"),  # refused by the JSON parser, named by its place
    (None, "required"),
    (True, "must be a number"),
    ([], "must be a number"),
]


@pytest.mark.parametrize(("value", "message"), API_BAD_VALUES)
def test_bad_prices_are_a_400_naming_the_field(owner_key, provider, value, message):
    url = f"/api/v1/providers/{provider.pk}/prices/m/"
    response = api(owner_key, "put", url, {"input_per_million": 1, "output_per_million": value})
    assert response.status_code == 400, response.content
    errors = response.json()
    assert list(errors) == ["output_per_million"], errors
    assert message in errors["output_per_million"][0]

    patch = {"prices": [{"model": "m", "input_per_million": value, "output_per_million": 1}]}
    response = api(owner_key, "patch", f"/api/v1/providers/{provider.pk}/", patch)
    assert response.status_code == 400, response.content
    errors = response.json()
    if message == "NUL":
        assert errors == {"prices[0].input_per_million": [errors["prices[0].input_per_million"][0]]}
    else:  # the item by index, then the field
        assert message in errors["prices"]["0"]["input_per_million"][0]
    assert prices(provider) == {}


def test_bad_model_names_are_a_400_naming_the_model(owner_key, provider):
    long = "x" * 201
    response = api(
        owner_key,
        "put",
        f"/api/v1/providers/{provider.pk}/prices/{long}/",
        {"input_per_million": 1, "output_per_million": 1},
    )
    assert response.status_code == 400
    assert response.json() == {"model": ["A model name is at most 200 characters."]}
    response = api(
        owner_key,
        "put",
        f"/api/v1/providers/{provider.pk}/prices/bad%00name/",
        {"input_per_million": 1, "output_per_million": 1},
    )
    assert response.status_code == 400 and "NUL" in response.json()["model"][0]
    assert (
        api(owner_key, "get", f"/api/v1/providers/{provider.pk}/prices/bad%00name/").status_code
        == 404
    )
    assert prices(provider) == {}


def test_a_viewer_reads_prices_but_cannot_change_them_through_the_api(viewer, provider):
    key = api_key_for(viewer)
    ModelPrice.objects.create(
        provider=provider, model="m", input_per_million=1, output_per_million=2
    )
    url = f"/api/v1/providers/{provider.pk}/prices/"
    assert api(key, "get", url).json()[0]["model"] == "m"
    values = {"input_per_million": 9, "output_per_million": 9}
    assert api(key, "put", f"{url}m/", values).status_code == 403
    assert api(key, "put", f"{url}new/", values).status_code == 403
    assert api(key, "delete", f"{url}m/").status_code == 403
    patch = {"prices": []}
    assert api(key, "patch", f"/api/v1/providers/{provider.pk}/", patch).status_code == 403
    assert prices(provider) == {"m": (1, 2)}


def test_another_projects_provider_prices_are_404_in_the_api(owner_key):
    other = ProviderFactory(project=MembershipFactory().project)
    ModelPrice.objects.create(provider=other, model="m", input_per_million=1, output_per_million=2)
    url = f"/api/v1/providers/{other.pk}/prices/"
    values = {"input_per_million": 9, "output_per_million": 9}
    assert api(owner_key, "get", url).status_code == 404
    assert api(owner_key, "get", f"{url}m/").status_code == 404
    assert api(owner_key, "put", f"{url}m/", values).status_code == 404
    assert api(owner_key, "delete", f"{url}m/").status_code == 404
    patch = {"prices": []}
    assert api(owner_key, "patch", f"/api/v1/providers/{other.pk}/", patch).status_code == 404
    assert prices(other) == {"m": (1, 2)}


def test_the_api_schema_documents_prices(owner_client):
    schema = owner_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    assert "/api/v1/providers/{provider_id}/prices/{model}/" in paths
    put = paths["/api/v1/providers/{provider_id}/prices/{model}/"]["put"]
    assert {"200", "400", "403", "404"} <= set(put["responses"])
    components = schema["components"]["schemas"]
    price = components["PriceValuesRequest"]["properties"]["input_per_million"]
    assert "Dollars per million tokens" in price["description"]
    provider = components["ProviderOutput"]["properties"]
    assert {"prices", "thinking", "supports_tools"} <= set(provider)
    assert "unknown" in provider["prices"]["description"]
