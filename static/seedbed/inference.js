// Inference history: keyboard review (the keys are review-keys.js, shared with the dataset
// page) and the entity rows of the correction editor.
//
//   c (or a)   mark correct, then next call
//   x (or r)   mark incorrect: opens the editor for the right answer, next after saving
//
// Call content is never put into the page as HTML here: only .value and .textContent.
(function () {
  "use strict";

  var advanceAfterSwap = false;

  var showDetailAfterSwap = false;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#history-rows .inference-row"));
  }

  function selected() {
    return document.querySelector("#history-rows .inference-row.selected");
  }

  function select(row) {
    if (!row) return;
    rows().forEach(function (r) { r.classList.remove("selected"); r.removeAttribute("aria-current"); });
    row.classList.add("selected");
    row.setAttribute("aria-current", "true");
    row.scrollIntoView({ block: "nearest" });
    row.click(); // htmx loads its detail
  }

  function closeEditor() {
    advanceAfterSwap = false;
    var editor = document.getElementById("call-editor");
    if (editor) editor.textContent = "";
  }

  function review(key) {
    var pressed = SeedbedKeys.press(document.getElementById("inference-detail"), key);
    advanceAfterSwap = pressed && rows().length > 0;
  }

  var keys = SeedbedKeys.attach({
    rows: rows,
    selected: selected,
    select: select,
    saveForm: "form.call-editor",
    escape: function () {
      if (!document.querySelector("#call-editor form")) return false;
      closeEditor();
      return true;
    },
    actions: {
      c: review,
      x: review,
      // The dataset page's accept / reject keys mean the same here.
      a: function () { review("c"); },
      r: function () { review("x"); },
      e: function () { SeedbedKeys.press(document.getElementById("inference-detail"), "e"); },
    },
  });

  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest(".inference-row");
    if (row && row.closest("#history-rows")) {
      if (event.isTrusted) {
        advanceAfterSwap = false;
        showDetailAfterSwap = true; // tapped: on one column the detail is below the list
      }
      rows().forEach(function (r) { r.classList.remove("selected"); });
      row.classList.add("selected");
    }
    if (event.target.closest && event.target.closest("[data-close-editor]")) closeEditor();
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target) return;
    if (target.id === "inference-detail" && advanceAfterSwap) {
      advanceAfterSwap = false;
      keys.move(1);
    }
    if (target.id === "inference-detail" && showDetailAfterSwap) {
      showDetailAfterSwap = false;
      if (target.getBoundingClientRect().top > window.innerHeight / 2) {
        target.scrollIntoView({ block: "start" });
      }
    }
    if (target.id === "call-editor" || target.id === "inference-detail") {
      target.querySelectorAll(".entity-rows").forEach(setUpEntityRows);
      var first = target.querySelector("#call-editor input, #call-editor textarea");
      if (target.id === "call-editor" && first) first.focus();
    }
  });

  // --- entity rows: a friendlier face on the JSON textarea, which stays the form field ---

  function parse(textarea) {
    try {
      var value = JSON.parse(textarea.value || "[]");
      return Array.isArray(value) ? value : null;
    } catch (e) {
      return null;
    }
  }

  function input(cls, placeholder, value, type) {
    var element = document.createElement("input");
    element.className = cls;
    element.placeholder = placeholder;
    element.type = type || "text";
    element.value = value === undefined || value === null ? "" : String(value);
    element.setAttribute("aria-label", placeholder);
    return element;
  }

  function addRow(box, entity) {
    var row = document.createElement("div");
    row.className = "entity-row";
    var label = input("er-label", "label", entity.label);
    label.setAttribute("list", "entity-labels");
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "small outline secondary er-remove";
    remove.textContent = "Remove";
    row.append(input("er-text", "entity text", entity.text), label,
      input("er-start", "start", entity.start, "number"), remove);
    box.querySelector(".entity-list").appendChild(row);
    return row;
  }

  function sync(box, textarea) {
    var entities = [];
    box.querySelectorAll(".entity-list .entity-row").forEach(function (row) {
      var text = row.querySelector(".er-text").value;
      var label = row.querySelector(".er-label").value.trim();
      var start = row.querySelector(".er-start").value;
      if (!text && !label) return;
      var entity = { text: text, label: label };
      if (start !== "" && !isNaN(parseInt(start, 10))) {
        entity.start = parseInt(start, 10);
        entity.end = entity.start + text.length;
      }
      entities.push(entity);
    });
    textarea.value = JSON.stringify(entities, null, 1);
  }

  function render(box, textarea) {
    var entities = parse(textarea);
    box.classList.toggle("json-invalid", entities === null);
    if (entities === null) return; // half-typed JSON: keep the rows until it parses again
    var list = box.querySelector(".entity-list");
    list.textContent = "";
    entities.forEach(function (entity) {
      if (entity && typeof entity === "object") addRow(box, entity);
    });
  }

  function selectionIn(container) {
    var selection = window.getSelection();
    if (!container || !selection || selection.rangeCount === 0 || selection.isCollapsed) return null;
    var range = selection.getRangeAt(0);
    if (!container.contains(range.startContainer) || !container.contains(range.endContainer)) return null;
    var before = document.createRange();
    before.setStart(container, 0);
    before.setEnd(range.startContainer, range.startOffset);
    return { text: range.toString(), start: before.toString().length };
  }

  function setUpEntityRows(box) {
    if (box.dataset.ready) return;
    box.dataset.ready = "1";
    var textarea = document.querySelector(box.dataset.json);
    if (!textarea) return;
    var head = document.createElement("div");
    head.className = "entity-row entity-head";
    ["Entity text", "Label", "Start (optional)"].forEach(function (title) {
      var cell = document.createElement("small");
      cell.textContent = title;
      head.appendChild(cell);
    });
    var list = document.createElement("div");
    list.className = "entity-list";
    var add = document.createElement("button");
    add.type = "button";
    add.className = "small outline er-add";
    add.textContent = "Add entity";
    var fromSelection = document.createElement("button");
    fromSelection.type = "button";
    fromSelection.className = "small outline er-add-selection";
    fromSelection.textContent = "Add selected text";
    fromSelection.title = "Select words in the input above, then click";
    var bar = document.createElement("div");
    bar.className = "entity-bar";
    bar.append(add, fromSelection);
    box.append(head, list, bar);
    box.hidden = false;
    render(box, textarea);

    box.addEventListener("input", function () { sync(box, textarea); });
    // Rows follow the JSON while it is typed, not on "change": that fires when the
    // textarea loses focus, i.e. on the mousedown of "Save correction", and the rows
    // rebuilt then moved the button away before the click landed.
    textarea.addEventListener("input", function () { render(box, textarea); });
    box.addEventListener("click", function (event) {
      if (event.target.classList.contains("er-remove")) {
        event.target.closest(".entity-row").remove();
        sync(box, textarea);
      } else if (event.target === add) {
        addRow(box, {}).querySelector(".er-text").focus();
      } else if (event.target === fromSelection) {
        var call = box.closest(".call") || document;
        var picked = selectionIn(call.querySelector(".call-text"));
        if (!picked || !picked.text.trim()) return;
        addRow(box, { text: picked.text, start: picked.start }).querySelector(".er-label").focus();
        sync(box, textarea);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".entity-rows").forEach(setUpEntityRows);
  });
})();
