/* hoctap staff pages, offline in the field.
   - Registers the service worker (sw.js) that keeps opened forms available without a network.
   - Each assessment form gets its own client id on this device; a draft is kept in IndexedDB as
     it is filled and restored if the same form is opened again.
   - A form filed with no connection is queued in IndexedDB ("outbox"); a counter in the header
     shows what waits; everything is sent when the connection returns. The server files a client
     id once, so a form sent twice (a lost answer, two tabs) is never filed twice. */
(function () {
  "use strict";
  const DB = "hoctap-field";
  const counter = document.getElementById("outbox-counter");

  function db() {
    return new Promise((resolve, reject) => {
      const open = indexedDB.open(DB, 1);
      open.onupgradeneeded = () => {
        open.result.createObjectStore("outbox", { keyPath: "clientId" });
        open.result.createObjectStore("drafts", { keyPath: "url" });
      };
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
  }

  function store(name, mode, work) {
    return db().then((database) => new Promise((resolve, reject) => {
      const tx = database.transaction(name, mode);
      const result = work(tx.objectStore(name));
      tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
      tx.onerror = () => reject(tx.error);
    }));
  }

  const all = (name) => store(name, "readonly", (s) => s.getAll());
  const put = (name, value) => store(name, "readwrite", (s) => s.put(value));
  const remove = (name, key) => store(name, "readwrite", (s) => s.delete(key));
  const get = (name, key) => store(name, "readonly", (s) => s.get(key));

  function showCount() {
    if (!counter) return Promise.resolve();
    return all("outbox").then((items) => {
      const waiting = items.filter((item) => !item.error).length;
      const failed = items.length - waiting;
      const parts = [];
      if (waiting) parts.push(waiting + " bản đánh giá chờ gửi");
      if (failed) parts.push(failed + " bản cần xem lại");
      counter.textContent = parts.join(" · ");
      counter.hidden = parts.length === 0;
    });
  }

  function entries(form) {
    return Array.from(new FormData(form).entries()).filter(([, value]) => typeof value === "string");
  }

  function send(item) {
    const body = new URLSearchParams(item.fields);
    return fetch(item.action, { method: "POST", body: body, credentials: "same-origin" }).then((response) => {
      if (response.url.includes("/dang-nhap")) {
        return put("outbox", Object.assign(item, { error: "Cần đăng nhập lại để gửi." }));
      }
      if (response.ok && /\/can-bo\/danh-gia\/[0-9a-f-]{36}$/.test(new URL(response.url).pathname)) {
        return remove("outbox", item.clientId);
      }
      // Refused (a value the rules do not accept): kept, marked, for the assessor to look at.
      return put("outbox", Object.assign(item, { error: "Máy chủ không nhận (mã " + response.status + ")." }));
    });
  }

  let sending = false;
  function flush() {
    if (sending || !navigator.onLine) return Promise.resolve();
    sending = true;
    return all("outbox")
      .then((items) => items.filter((item) => !item.error).reduce((chain, item) => chain.then(() => send(item)), Promise.resolve()))
      .catch(() => undefined) // the connection dropped again: the rest waits for the next "online"
      .then(() => { sending = false; return showCount(); });
  }

  function setUpForm(form) {
    const idField = form.querySelector("input[name=client_id]");
    const key = location.pathname + location.search;
    // A client id of this device for this form; the one in a cached page would be shared.
    if (idField && window.crypto && crypto.randomUUID) idField.value = crypto.randomUUID();
    get("drafts", key).then((draft) => {
      if (!draft) return;
      draft.fields.forEach(([name, value]) => {
        const fields = form.querySelectorAll("[name='" + CSS.escape(name) + "']");
        fields.forEach((field) => {
          if (field.type === "radio" || field.type === "checkbox") field.checked = field.value === value;
          else if (name !== "csrf") field.value = value;
        });
      });
      const note = document.getElementById("draft-note");
      if (note) note.hidden = false;
    });
    form.addEventListener("input", () => put("drafts", { url: key, fields: entries(form), savedAt: Date.now() }));
    form.addEventListener("submit", (event) => {
      if (navigator.onLine) {
        remove("drafts", key);
        return; // sent by the browser as usual; the server files it once
      }
      event.preventDefault();
      const item = { clientId: idField ? idField.value : String(Date.now()), action: form.action, fields: entries(form), savedAt: Date.now() };
      put("outbox", item)
        .then(() => remove("drafts", key))
        .then(showCount)
        .then(() => {
          form.reset();
          if (idField && window.crypto && crypto.randomUUID) idField.value = crypto.randomUUID();
          const saved = document.getElementById("saved-offline");
          if (saved) { saved.hidden = false; saved.focus(); }
        });
    });
  }

  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => undefined);
  document.querySelectorAll("form[data-offline]").forEach(setUpForm);
  document.querySelectorAll("form[action='/dang-xuat']").forEach((form) =>
    form.addEventListener("submit", () => { if (window.caches) caches.delete("hoctap-v1"); }));
  document.body.addEventListener("htmx:sendError", () => {
    const preview = document.getElementById("preview");
    if (preview) preview.textContent = "Đang ngoại tuyến: kết quả sẽ được chấm khi bản đánh giá được gửi.";
  });
  window.addEventListener("online", flush);
  showCount().then(flush);
})();
