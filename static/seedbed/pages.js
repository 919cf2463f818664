// Behaviour the templates used to write inline (on… attributes, hx-on, hx-trigger
// filters), moved here so that the Content-Security-Policy can refuse inline script and
// eval: the markup only carries data-* attributes. Listeners sit on the document, so
// elements swapped in by htmx work too.

// <select data-autosubmit>: choosing an option submits its form.
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-autosubmit]");
  if (select && select.form) select.form.submit();
});

// <form data-confirm="question">: asks before submitting.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

// <input data-enter-ignored>: Enter does not submit (typing already searches).
document.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && event.target.closest("[data-enter-ignored]")) {
    event.preventDefault();
  }
});

// htmx requests an element may skip:
//  data-poll-visible: a poll that waits while the tab is hidden;
//  data-skip-change-from="id": a change event of #id does not trigger the element
//  (that field triggers it by its own, delayed, trigger).
document.addEventListener("htmx:confirm", (event) => {
  const elt = event.detail.elt;
  if (elt.hasAttribute("data-poll-visible") && document.visibilityState !== "visible") {
    event.preventDefault();
    return;
  }
  const skip = elt.getAttribute("data-skip-change-from");
  const trigger = event.detail.triggeringEvent;
  if (skip && trigger && trigger.type === "change" && trigger.target.id === skip) {
    event.preventDefault();
  }
});

// <details data-keep-open="key"> inside a polled fragment: one a person opened stays open
// when the poll swaps the fragment in again (the server sends them closed).
const openBeforeSwap = new Set();
document.addEventListener("htmx:beforeSwap", (event) => {
  openBeforeSwap.clear();
  event.detail.target.querySelectorAll("details[data-keep-open][open]").forEach((details) => {
    openBeforeSwap.add(details.dataset.keepOpen);
  });
});
document.addEventListener("htmx:afterSettle", () => {
  if (!openBeforeSwap.size) return;
  document.querySelectorAll("details[data-keep-open]").forEach((details) => {
    if (openBeforeSwap.has(details.dataset.keepOpen)) details.open = true;
  });
});

// A fragment with data-clears-messages (a run that has ended) takes the page's flash
// messages away: "Run 7 queued." is old news then.
document.addEventListener("htmx:afterSettle", () => {
  if (document.querySelector("[data-clears-messages]")) {
    document.querySelectorAll(".messages").forEach((box) => box.remove());
  }
});
