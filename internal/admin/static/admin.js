// Progressive enhancement only: the page works without this file.
// Filter selects submit their form when changed.
document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
  el.addEventListener("change", function () { el.form.submit(); });
});
