import Hummingbird
import HTTPTypes
import NIOCore

/// The dashboard's script and style sheet, compiled in: no build step, no CDN, nothing fetched from elsewhere.
enum DashboardAssets {
    static func response(_ text: String, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[Dashboard.noSniffHeader] = "nosniff"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// Fetches the page's fragments with the API token the person typed (kept for the tab only, in
    /// `sessionStorage`), shows them, and follows `/ui/events` to refresh what changed. Without a token, or with a
    /// refused one, it asks for one and shows nothing else.
    static let script = #"""
        "use strict";
        (function () {
          const main = document.getElementById("content");
          const view = document.getElementById("view");
          const status = document.getElementById("status");
          const form = document.getElementById("token-form");
          const tokenKey = "euphrosyne-api-token";
          let streaming = null;
          let refreshTimer = null;

          function headers() {
            const token = sessionStorage.getItem(tokenKey);
            return token ? { "Authorization": "Bearer " + token } : {};
          }

          function askForToken(reason) {
            if (streaming) { streaming.abort(); streaming = null; }
            view.replaceChildren();
            document.getElementById("token-reason").textContent = reason;
            form.hidden = false;
            document.getElementById("token").focus();
          }

          function fragmentURL() {
            if (main.dataset.view === "incident") {
              return "/ui/fragments/incidents/" + encodeURIComponent(main.dataset.incident);
            }
            if (main.dataset.view === "effectiveness") {
              return "/ui/fragments/effectiveness" + (main.dataset.query ? "?" + main.dataset.query : "");
            }
            const query = main.dataset.query;
            return "/ui/fragments/incidents" + (query ? "?" + query : "");
          }

          async function load() {
            if (main.dataset.view === "missing") { status.textContent = "There is no incident at this address."; return; }
            let response;
            try {
              response = await fetch(fragmentURL(), { headers: headers(), cache: "no-store" });
            } catch (error) {
              status.textContent = "The reconciler cannot be reached; retrying.";
              status.dataset.kind = "error";
              schedule(5000);
              return;
            }
            if (response.status === 401) {
              const hadToken = sessionStorage.getItem(tokenKey) !== null;
              sessionStorage.removeItem(tokenKey);
              askForToken(hadToken ? "That token was refused. Enter an API token." : "This reconciler's API needs a token.");
              return false;
            }
            if (!response.ok) {
              let message = "The reconciler answered " + response.status + ".";
              try { message = (await response.json()).message || message; } catch (ignored) {}
              status.textContent = message;
              status.dataset.kind = "error";
              return false;
            }
            form.hidden = true;
            // The fragment is HTML the reconciler rendered, every value escaped; no script runs from it.
            view.innerHTML = await response.text();
            if (status.dataset.kind === "error") { status.textContent = ""; status.dataset.kind = ""; }
            return true;
          }

          function schedule(delay) {
            clearTimeout(refreshTimer);
            refreshTimer = setTimeout(load, delay);
          }

          function concerns(change) {
            return main.dataset.view !== "incident" || change.uuid === main.dataset.incident;
          }

          async function follow() {
            streaming = new AbortController();
            try {
              const response = await fetch("/ui/events", { headers: headers(), signal: streaming.signal, cache: "no-store" });
              if (!response.ok || !response.body) { throw new Error("events answered " + response.status); }
              const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
              let buffer = "";
              for (;;) {
                const { value, done } = await reader.read();
                if (done) { break; }
                buffer += value;
                let end;
                while ((end = buffer.indexOf("\n\n")) >= 0) {
                  const block = buffer.slice(0, end);
                  buffer = buffer.slice(end + 2);
                  if (block.startsWith(": connected")) {
                    // Subscribed now: catch up on what changed between the first load and this moment.
                    main.dataset.live = "true";
                    schedule(0);
                    continue;
                  }
                  const data = block.split("\n").filter((line) => line.startsWith("data: ")).map((line) => line.slice(6)).join("\n");
                  if (!data) { continue; }
                  try { if (concerns(JSON.parse(data))) { schedule(main.dataset.view === "effectiveness" ? 2000 : 200); } } catch (ignored) {}
                }
              }
            } catch (error) {
              if (streaming && streaming.signal.aborted) { return; }
            }
            main.dataset.live = "false";
            // The stream ended (a restart, a network blip): catch up, then follow again.
            setTimeout(() => { load().then((ok) => { if (ok) { follow(); } }); }, 3000);
          }

          // A key per form, kept across clicks: a double click is one approval.
          function idempotencyKey(element) {
            if (!element.dataset.key) {
              const bytes = crypto.getRandomValues(new Uint8Array(16));
              element.dataset.key = "ui-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
            }
            return element.dataset.key;
          }

          view.addEventListener("submit", async (event) => {
            const target = event.target;
            if (!target.classList.contains("approve")) { return; }
            event.preventDefault();
            const data = {};
            for (const input of target.querySelectorAll("input[name]")) {
              if (input.value.trim()) { data[input.name] = input.value.trim(); }
            }
            const body = JSON.stringify({ uuid: target.dataset.incident, actions: [{ name: target.dataset.action, data: data }] });
            const button = target.querySelector("button");
            button.disabled = true;
            status.textContent = "Approving " + target.dataset.action + "…";
            try {
              const response = await fetch("/ui/actions", {
                method: "POST", cache: "no-store", body: body,
                headers: Object.assign({ "Content-Type": "application/json", "Idempotency-Key": idempotencyKey(target) }, headers()),
              });
              const answer = await response.json().catch(() => ({}));
              if (response.status === 401) { askForToken("That token was refused. Enter an API token."); return; }
              if (response.status === 202) {
                status.textContent = "Approved " + target.dataset.action + " (approval " + answer.approval + "): it is running.";
              } else if (response.ok) {
                status.textContent = target.dataset.action + " was already approved (approval " + answer.approval + "); it is not run again.";
              } else {
                status.textContent = target.dataset.action + " was not run: " + (answer.message || ("the reconciler answered " + response.status));
              }
            } catch (error) {
              status.textContent = "The reconciler cannot be reached; " + target.dataset.action + " was not approved.";
            } finally {
              button.disabled = false;
            }
            schedule(200);
          });

          form.addEventListener("submit", (event) => {
            event.preventDefault();
            const token = document.getElementById("token").value.trim();
            if (!token) { return; }
            sessionStorage.setItem(tokenKey, token);
            document.getElementById("token").value = "";
            load().then((ok) => { if (ok) { follow(); } });
          });

          load().then((ok) => { if (ok) { follow(); } });
        })();
        """#

    /// Readable at 200 % and in a narrow window (tables scroll sideways inside their section), visible focus,
    /// colours with enough contrast, state badges that do not rely on colour alone (they carry the state's name).
    static let styleSheet = """
        :root { color-scheme: light; --ink: #1d1d1f; --muted: #505055; --line: #c9c9ce; --accent: #0b57d0; }
        * { box-sizing: border-box; }
        [hidden] { display: none !important; }
        body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: var(--ink); background: #fff; }
        header { border-bottom: 1px solid var(--line); padding: 0.5rem 1rem; }
        nav { display: flex; flex-wrap: wrap; gap: 1rem; align-items: baseline; }
        nav a { color: var(--accent); }
        nav a[aria-current="page"] { font-weight: 700; color: var(--ink); }
        .brand { font-weight: 700; text-decoration: none; }
        main { padding: 1rem; max-width: 80rem; }
        a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, main:focus-visible {
          outline: 3px solid var(--accent); outline-offset: 2px; }
        .skip { position: absolute; left: -999px; }
        .skip:focus { left: 1rem; top: 1rem; background: #fff; padding: 0.5rem; z-index: 1; }
        .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }
        .token, .filters { display: flex; flex-wrap: wrap; gap: 0.75rem; align-items: end; margin: 1rem 0; }
        .filters label, .token label { display: flex; flex-direction: column; font-size: 0.9rem; color: var(--muted); }
        input, select, button { font: inherit; padding: 0.35rem 0.5rem; border: 1px solid #76767c; border-radius: 4px; }
        button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
        table { border-collapse: collapse; width: 100%; display: block; overflow-x: auto; }
        th, td { text-align: left; padding: 0.4rem 0.6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { color: var(--muted); font-weight: 600; }
        .state, .run { display: inline-block; padding: 0 0.4rem; border-radius: 4px; border: 1px solid; font-size: 0.9rem; }
        .state-diagnosing, .state-received { color: #6b4e00; background: #fff4cc; }
        .state-analysed { color: #8a3b00; background: #ffe7d1; }
        .state-acting { color: #0b4a8b; background: #dcecff; }
        .state-done, .state-resolved { color: #135c2e; background: #dff5e5; }
        .state-failed { color: #8e1537; background: #fde1e8; }
        .state-expired { color: #4a4a50; background: #ececef; }
        .run-reported { color: #135c2e; } .run-failed, .run-timedOut { color: #8e1537; } .run-cancelled { color: #4a4a50; }
        pre.analysis { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f6f8; padding: 0.75rem; border-radius: 4px; }
        td.found { white-space: pre-wrap; overflow-wrap: anywhere; max-width: 40rem; }
        h3 { font-size: 1rem; margin: 0.75rem 0 0.25rem; color: var(--muted); }
        dl.labels { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
        dl.labels dt { color: var(--muted); } dl.labels dd { margin: 0; overflow-wrap: anywhere; }
        .count { color: var(--muted); }
        figure { margin: 1rem 0; overflow-x: auto; } figcaption { color: var(--muted); font-size: 0.9rem; }
        svg { max-width: 100%; height: auto; }
        """
}
