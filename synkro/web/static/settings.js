// Settings wizard: a Check shows its lines live. The check form is POSTed with fetch and the answer
// is read as NDJSON: {"type":"line","html":…} per check line as the server's check thread adds it,
// then {"type":"done","html":…,"status_html":…} with the whole result (the server's last word on
// every line). The HTML comes from the same templates as the page without JavaScript, so a line
// looks the same live or not. Without fetch streams the form simply submits and the page comes back.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var token = meta ? meta.getAttribute("content") : "";

  function append(container, html) {
    container.insertAdjacentHTML("beforeend", html);
  }

  function fallback(form, submitter) {
    if (submitter && submitter.name) {
      var hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = submitter.name;
      hidden.value = submitter.value;
      form.appendChild(hidden);
    }
    form.submit();
  }

  async function runCheck(form, submitter) {
    var box = document.getElementById("check-results");
    var buttons = form.querySelectorAll("button");
    var body = new URLSearchParams(new FormData(form));
    if (submitter && submitter.name) body.set(submitter.name, submitter.value);
    buttons.forEach(function (b) { b.disabled = true; });
    box.setAttribute("aria-busy", "true");
    box.textContent = "";
    var progress = document.createElement("p");
    progress.className = "muted checking";
    progress.setAttribute("data-testid", "check-progress");
    progress.textContent = form.getAttribute("data-checking");
    var list = document.createElement("ul");
    list.className = "check-lines";
    box.append(progress, list);
    try {
      var response = await fetch(form.action, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "x-csrftoken": token, "accept": "application/x-ndjson" },
      });
      var type = response.headers.get("content-type") || "";
      if (!response.ok || type.indexOf("application/x-ndjson") !== 0 || !response.body) {
        fallback(form, submitter);  // e.g. a refusal page: let the browser show it
        return;
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      var finished = false;
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buffer += decoder.decode(chunk.value, { stream: true });
        var end;
        while ((end = buffer.indexOf("\n")) >= 0) {
          var text = buffer.slice(0, end);
          buffer = buffer.slice(end + 1);
          if (!text.trim()) continue;
          var event = JSON.parse(text);
          if (event.type === "line") {
            append(list, event.html);
          } else if (event.type === "done") {
            finished = true;
            box.innerHTML = event.html;
            var status = document.getElementById("step-status");
            if (status) status.innerHTML = event.status_html;
            var strip = document.getElementById("strip-status-" + form.getAttribute("data-kind"));
            if (strip) strip.innerHTML = event.status_html;
          }
        }
      }
      if (!finished) throw new Error("stream ended early");
    } catch (error) {
      progress.className = "alert alert-fail";
      progress.textContent = form.getAttribute("data-stream-failed");
    } finally {
      box.removeAttribute("aria-busy");
      buttons.forEach(function (b) { b.disabled = false; });
    }
  }

  document.querySelectorAll("form[data-stream]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.fetch || !window.ReadableStream || !window.TextDecoder) return;
      event.preventDefault();
      runCheck(form, event.submitter);
    });
  });
})();
