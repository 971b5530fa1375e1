// The breach check page. The WebAssembly module (the Go client compiled for
// the browser) normalises, hashes and blinds; this script only moves the
// prefix, the blinded element and the answers between it and the server.
"use strict";

(() => {
  const form = document.getElementById("check");
  const button = document.getElementById("submit");
  const result = document.getElementById("result");

  const classNames = {
    phone: "phone number", cn_resident_id: "resident ID number", email: "e-mail address",
    person_name: "name", address: "address", criminal_record: "criminal record",
    medical_record: "medical record",
  };

  function show(state, nodes) {
    result.dataset.state = state;
    result.replaceChildren(...nodes);
  }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  async function getJSON(url, init) {
    const resp = await fetch(url, Object.assign({ cache: "no-store", credentials: "omit" }, init));
    const body = await resp.text();
    if (!resp.ok) {
      let msg = body;
      try { msg = JSON.parse(body).error || body; } catch (e) { /* not JSON */ }
      throw new Error(`server answered ${resp.status}: ${msg}`);
    }
    return body;
  }

  async function check(value, kind, region) {
    const wasm = globalThis.ajarBreach;
    const q = wasm.prepare(value, kind, region);
    if (q.error) return show("error", [el("p", q.error)]);
    try {
      const list = JSON.parse(await getJSON("/api/v1/breaches"));
      const modes = new Set();
      for (const b of list.breaches) {
        const ix = (b.identifiers || {})[q.kind];
        if (ix) modes.add(ix.mode);
      }
      const ids = new Set();
      if (modes.has("hashed")) {
        const text = await getJSON(`/api/v1/breach/range/${q.prefix}`);
        const m = wasm.matchHashed(q.token, text);
        if (m.error) throw new Error(m.error);
        m.ids.forEach((id) => ids.add(id));
      }
      if (modes.has("private")) {
        const b = wasm.blind(q.token);
        if (b.error) throw new Error(b.error);
        const answer = await getJSON(`/api/v1/breach/private/${q.prefix}`, {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ blinded: b.blinded }),
        });
        const m = wasm.matchPrivate(q.token, answer);
        if (m.error) throw new Error(m.error);
        m.ids.forEach((id) => ids.add(id));
      }
      const found = list.breaches.filter((b) => ids.has(b.id));
      if (found.length === 0) {
        return show("notfound", [el("h2", "Not found"),
          el("p", `This ${classNames[q.kind === "id" ? "cn_resident_id" : q.kind]} is in none of the ${list.breaches.length} leaks known here.`)]);
      }
      const nodes = [el("h2", `Found in ${found.length} leak${found.length > 1 ? "s" : ""}`)];
      for (const b of found) {
        const div = el("div", undefined, "breach");
        div.append(el("h3", b.name));
        div.append(el("p", `Leaked ${b.date} · ${b.records.toLocaleString()} records` + (b.exposure ? ` · from the exposed store at ${b.exposure}` : ""), "meta"));
        if (b.description) div.append(el("p", b.description));
        const cls = el("p", "What leaked: ", "classes");
        for (const c of b.classes) cls.append(el("span", classNames[c] || c));
        div.append(cls);
        nodes.push(div);
      }
      show("found", nodes);
    } catch (e) {
      show("error", [el("p", e.message)]);
    } finally {
      wasm.forget(q.token);
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    show("busy", [el("p", "Checking…")]);
    check(document.getElementById("value").value,
      document.getElementById("kind").value, document.getElementById("region").value);
  });

  globalThis.addEventListener("ajarbreachready", () => {
    button.disabled = false;
    button.textContent = "Check";
    document.body.dataset.ready = "true";
  });

  const go = new Go();
  WebAssembly.instantiateStreaming(fetch("/breach/assets/breach.wasm"), go.importObject)
    .then((r) => go.run(r.instance))
    .catch((e) => show("error", [el("p", `The checker did not load: ${e.message}`)]));
})();
