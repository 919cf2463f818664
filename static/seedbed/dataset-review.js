// The dataset page's keyboard review (keys in review-keys.js, shared with the history):
//
//   a / r   accept / reject the selected sample, then the next one   (c / x too)
//   1–9     its label buttons (single label: set; multi-label: toggle)
//   e       edit it        u   undo this page's last review action (key or mouse)
//
// A row is an <article class="sample" data-state="…" data-labels="[…]">; its buttons carry
// data-key. Undo sends the state (and labels) the row had before, through the same URLs.
(function () {
  "use strict";

  var selectedId = null;
  var advanceAfterSwap = false;
  var undoStack = [];

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#results .sample"));
  }

  function selected() {
    return selectedId ? document.getElementById("sample-" + selectedId) : null;
  }

  function mark(row) {
    rows().forEach(function (r) { r.classList.remove("selected"); r.removeAttribute("aria-current"); });
    if (!row) return;
    row.classList.add("selected");
    row.setAttribute("aria-current", "true");
  }

  function select(row) {
    if (!row) return;
    selectedId = row.id.replace("sample-", "");
    mark(row);
    row.scrollIntoView({ block: "nearest" });
  }

  // Keys whose buttons are review actions that u can undo (by keyboard or by mouse).
  function undoable(button) {
    var key = button && button.getAttribute && button.getAttribute("data-key");
    return key && /^[ar1-9]$/.test(key) ? key : null;
  }

  function remember(row, key) {
    undoStack.push({
      id: row.id.replace("sample-", ""),
      url: row.dataset.url,
      state: row.dataset.state,
      labels: /^[1-9]$/.test(key) ? row.dataset.labels : null,
    });
  }

  function review(key) {
    advanceAfterSwap = SeedbedKeys.press(selected(), key);
  }

  function label(key) {
    SeedbedKeys.press(selected(), key);
  }

  function undo() {
    var last = undoStack.pop();
    if (!last) return;
    var target = "#sample-" + last.id;
    var swap = { target: target, swap: "outerHTML" };
    var restoreState = function () {
      return htmx.ajax("POST", last.url + "review/", Object.assign({ values: { state: last.state } }, swap));
    };
    var done = last.labels === null
      ? restoreState()
      : htmx.ajax("POST", last.url + "labels/", Object.assign({ values: { labels: last.labels } }, swap))
        .then(restoreState);
    selectedId = last.id;
    done.then(function () { select(document.getElementById("sample-" + last.id)); });
  }

  var actions = { a: review, r: review, u: undo, e: function () { SeedbedKeys.press(selected(), "e"); } };
  actions.c = function () { review("a"); };
  actions.x = function () { review("r"); };
  "123456789".split("").forEach(function (digit) { actions[digit] = label; });

  var keys = SeedbedKeys.attach({
    rows: rows,
    selected: selected,
    select: select,
    saveForm: ".sample.editing form",
    escape: function () {
      var cancel = document.querySelector(".sample.editing [data-cancel-edit]");
      if (cancel) cancel.click();
      return Boolean(cancel);
    },
    actions: actions,
  });

  // A click on a row selects it, so the keys and the mouse can take turns; a review button
  // (pressed by a key or the mouse) leaves what the row was before for u.
  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest("#results .sample");
    if (!row) return;
    var key = undoable(event.target.closest("button"));
    if (key) remember(row, key);
    if (event.isTrusted) { advanceAfterSwap = false; selectedId = row.id.replace("sample-", ""); mark(row); }
  });

  // A refused review (a 400: nothing swapped) neither moves on nor leaves an undo behind.
  document.addEventListener("htmx:responseError", function (event) {
    var source = event.detail && event.detail.elt;
    if (!undoable(source) || !source.closest("#results .sample")) return;
    advanceAfterSwap = false;
    undoStack.pop();
  });

  // Rows are swapped whole: the new one takes the selection over; an accept or reject moves on.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.elt;
    var row = selected();
    if (row) mark(row);
    if (advanceAfterSwap && target && target.classList && target.classList.contains("sample")) {
      advanceAfterSwap = false;
      keys.move(1);
    }
    var editor = document.querySelector(".sample.editing textarea");
    if (editor && target && target.classList && target.classList.contains("editing")) editor.focus();
  });
})();
