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
