// Runs pages: the window fields follow the mode choice; a running run's page follows the
// ledger over server-sent events (/t/{slug}/runs/{id}/events) and patches each step's
// data-status and lines in place. The server renders the page; this only updates it.
"use strict";

(function () {
  const form = document.querySelector("[data-run-form]");
  if (form) {
    const fields = form.querySelector("[data-window-fields]");
    const sync = () => {
      const mode = form.querySelector("input[name=mode]:checked");
      fields.disabled = !mode || mode.value !== "window";
    };
    form.addEventListener("change", sync);
    sync();
  }

  const steps = document.querySelector("[data-events-url]");
  if (!steps || steps.dataset.live !== "true" || !("EventSource" in window)) {
    return;
  }

  function setText(element, text) {
    if (element && element.textContent !== text) {
      element.textContent = text;
    }
  }

  function apply(state) {
    for (const step of state.steps) {
      const item = steps.querySelector(`[data-step="${step.step}"]`);
      if (!item) {
        continue;
      }
      item.dataset.status = step.status;
      setText(item.querySelector("[data-role=status]"), step.label);
      setText(item.querySelector("[data-role=summary]"), step.summary);
    }
    const badge = document.querySelector("[data-testid=run-status]");
    if (badge) {
      badge.dataset.status = state.status;
      badge.className = `badge badge-${state.status}`;
      setText(badge, state.status_label);
    }
    const error = document.querySelector("[data-role=run-error]");
    if (error) {
      setText(error, state.error || "");
      error.hidden = !state.error;
    }
    const report = document.querySelector("[data-testid=run-report]");
    if (report && state.report_url) {
      report.href = state.report_url;
      report.hidden = false;
    }
    setText(document.querySelector("[data-role=duration]"), state.duration);
    const note = document.querySelector("[data-role=live-note]");
    if (note && state.finished) {
      note.hidden = true;
    }
  }

  const source = new EventSource(steps.dataset.eventsUrl);
  source.addEventListener("state", (event) => apply(JSON.parse(event.data)));
  // The run is over: close, or the browser would reconnect and replay the final state forever.
  source.addEventListener("end", () => {
    source.close();
    steps.dataset.live = "false";
  });
})();
