// While an editor types a new entity's name, list the entities already recorded under a
// close name, each with "use this one", so that a duplicate is caught before saving.
"use strict";
// Admin media load in the page's head: wait for the form.
document.addEventListener("DOMContentLoaded", function () {
  const input = document.getElementById("id_name");
  if (!input || !window.location.pathname.endsWith("/add/")) {
    return;
  }
  const params = new URLSearchParams(window.location.search);
  const box = document.createElement("div");
  box.className = "help similar-entities";
  box.setAttribute("aria-live", "polite");
  input.insertAdjacentElement("afterend", box);
  let timer = null;
  let latest = 0;

  function show(results) {
    box.replaceChildren();
    if (!results.length) {
      return;
    }
    const intro = document.createElement("p");
    intro.textContent = "Already recorded under a close name:";
    const list = document.createElement("ul");
    for (const result of results) {
      const item = document.createElement("li");
      const open = document.createElement("a");
      open.href = result.url;
      open.textContent = result.text;
      const use = document.createElement("a");
      use.href = result.use_url;
      use.textContent = "use this one";
      item.append(open, ` (matched “${result.matched}”): `, use);
      list.append(item);
    }
    box.append(intro, list);
  }

  async function look(name) {
    const request = ++latest;
    const query = new URLSearchParams({ name });
    for (const key of ["_popup", "_to_field"]) {
      if (params.has(key)) {
        query.set(key, params.get(key));
      }
    }
    const url = new URL(`../similar/?${query}`, window.location.href);
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (response.ok && request === latest) {
      show((await response.json()).results);
    }
  }

  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    const name = input.value.trim();
    timer = window.setTimeout(() => (name.length >= 3 ? look(name) : show([])), 300);
  });
});
