// "Copy" buttons: <button data-copy="#id"> copies the text of the element #id.
// Buttons swapped in by htmx work too: the listener sits on the document.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const text = source.textContent.trim();
  let copied = false;
  try {
    await navigator.clipboard.writeText(text);  // needs https or localhost
    copied = true;
  } catch {
    // Plain http: select the text so that Ctrl-C copies it.
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  const label = button.dataset.label || (button.dataset.label = button.textContent);
  button.textContent = copied ? "Copied" : "Selected: press Ctrl-C";
  clearTimeout(button.restore);
  button.restore = setTimeout(() => { button.textContent = label; }, 2500);
});
