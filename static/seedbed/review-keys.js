// Keyboard review, shared by the inference history and the dataset page.
//
//   j / k   next / previous item          e   edit           u   undo (dataset page)
//   a / r   accept / reject (dataset)     c / x  correct / incorrect (history)
//   1–9     the label buttons             ?   show the keys   Esc closes an editor,
//                                                             Ctrl+Enter saves it
//
// A page calls SeedbedKeys.attach({...}) with how to find and select its items and what
// its action keys do; the keys it does not name do nothing. Buttons carry data-key="…":
// SeedbedKeys.press(scope, key) clicks the one inside `scope`.
window.SeedbedKeys = (function () {
  "use strict";

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function press(scope, key) {
    var button = scope && scope.querySelector("[data-key='" + key + "']");
    if (button && !button.disabled) { button.click(); return true; }
    return false;
  }

  // options: rows() → elements in order; selected() → element or null; select(element);
  // actions: {key: function (key)}; escape() → true if it closed something;
  // saveForm: selector of the forms Ctrl+Enter submits; help: id of the <details> of keys.
  function attach(options) {
    function move(step) {
      var all = options.rows();
      if (!all.length) return;
      var index = all.indexOf(options.selected());
      var next = index < 0 ? 0 : Math.min(all.length - 1, Math.max(0, index + step));
      if (next !== index) options.select(all[next]);
    }

    document.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        var form = options.saveForm && event.target.closest && event.target.closest(options.saveForm);
        if (form) { event.preventDefault(); form.requestSubmit(); }
        return;
      }
      if (event.key === "Escape") {
        if (options.escape && options.escape()) event.preventDefault();
        return;
      }
      if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
      var action = Object.prototype.hasOwnProperty.call(options.actions, event.key)
        ? options.actions[event.key] : null;
      if (event.key === "j") move(1);
      else if (event.key === "k") move(-1);
      else if (event.key === "?") {
        var help = document.getElementById(options.help || "shortcuts");
        if (help) help.open = !help.open;
      } else if (action) action(event.key);
      else return;
      event.preventDefault();
    });

    return { move: move };
  }

  return { attach: attach, press: press, typing: typing };
})();
