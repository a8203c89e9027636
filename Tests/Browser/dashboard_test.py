"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright, against the built
`euphrosyne serve --local` with an API token configured.

What it holds the dashboard to (issue 17): the page shows nothing without a token and refuses a wrong one; with the
token, an alert sent to /webhook appears in the list without a reload; its page shows the runs and the analysis;
pressing an action's button runs it once (a second press is told it was approved already) and the outcome appears;
alert text with HTML or script is shown as text and runs nothing; axe-core finds no serious or critical violation.

usage: python3 Tests/Browser/dashboard_test.py BIN_DIR [SCREENSHOT_DIR]
"""
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect, sync_playwright

FIRING = {
    "version": "4", "receiver": "reconciler", "status": "firing",
    "groupKey": '{}:{alertname="PodCrashLooping"}',
    "groupLabels": {"alertname": "PodCrashLooping"},
    "commonLabels": {"alertname": "PodCrashLooping", "namespace": "shop", "severity": "critical"},
    "commonAnnotations": {}, "externalURL": "http://alertmanager.example",
    "alerts": [{
        "status": "firing", "labels": {"alertname": "PodCrashLooping", "namespace": "shop", "pod": "api-7d9f"},
        "annotations": {"summary": "api pod restarting"}, "startsAt": "2026-11-28T21:13:44Z",
        "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "09f827451c0fe9f3",
    }],
}


def hostile():
    alert = json.loads(json.dumps(FIRING))
    name = '<img src=x onerror="window.pwned=1">'
    alert["groupKey"] = '{}:{alertname="hostile"}'
    alert["groupLabels"] = {"alertname": name}
    alert["commonLabels"]["alertname"] = name
    alert["alerts"][0]["labels"]["alertname"] = name
    alert["alerts"][0]["annotations"]["summary"] = "<script>window.pwned=2</script>"
    alert["alerts"][0]["fingerprint"] = "1111111111111111"
    return alert


class Serve:
    """The built `serve` on free loopback ports, stopped (SIGTERM, then SIGKILL) however the test ends."""

    def __init__(self, bin_dir, work, token):
        self.work = work
        self.record = os.path.join(work, "actions.jsonl")
        registry = os.path.join(work, "recipes.yaml")
        with open(registry, "w") as f:
            f.write(f"""debugging:
  dummy:
    enabled: true
    entrypoint: "{bin_dir}/euphrosyne-recipes dummy"
    env:
      DUMMY_SUGGEST: record
actions:
  record:
    enabled: true
    entrypoint: "{bin_dir}/euphrosyne-recipes record"
    inputs: [note]
    env:
      RECORD_FILE: {self.record}
""")
        self.log = os.path.join(work, "serve.log")
        env = dict(os.environ, API_TOKENS=f"oncall:{token}")
        self.process = subprocess.Popen(
            [f"{bin_dir}/euphrosyne", "serve", "--local", "--recipes", registry, "--host", "127.0.0.1",
             "--webhook-port", "0", "--api-port", "0", "--log-format", "text", "--log-level", "notice"],
            cwd=work, env=env, stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        self.webhook = self.api = None
        while time.monotonic() < deadline and (self.webhook is None or self.api is None):
            if self.process.poll() is not None:
                raise RuntimeError("serve exited: " + open(self.log).read()[-2000:])
            text = open(self.log).read()
            self.webhook = self.webhook or self.port(text, "webhook listener ready")
            self.api = self.api or self.port(text, "API listener ready")
            time.sleep(0.1)
        if self.webhook is None or self.api is None:
            raise RuntimeError("serve did not report its ports: " + open(self.log).read()[-2000:])

    @staticmethod
    def port(text, line):
        for candidate in text.splitlines():
            if line in candidate:
                match = re.search(r"port=(\d+)", candidate)
                if match:
                    return int(match.group(1))
        return None

    def alert(self, payload):
        request = urllib.request.Request(f"http://127.0.0.1:{self.webhook}/webhook", data=json.dumps(payload).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 202, response.status
            return json.load(response)["uuid"]

    def records(self):
        return open(self.record).read().splitlines() if os.path.exists(self.record) else []

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def no_serious_violations(page, what):
    result = Axe().run(page)
    bad = [v for v in result.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert not bad, f"{what}: " + "; ".join(f"{v['id']} ({v['impact']}): {v['help']}" for v in bad)


def main():
    bin_dir = os.path.abspath(sys.argv[1])
    shots = sys.argv[2] if len(sys.argv) > 2 else None
    work = tempfile.mkdtemp(prefix="euphrosyne-browser-")
    token = secrets.token_hex(16)
    serve = Serve(bin_dir, work, token)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                                                 args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            dialogs = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            base = f"http://127.0.0.1:{serve.api}"

            # Without a token: the form, and nothing else, with the focus in its field. Before it, by keyboard: the
            # three links of the navigation, then the skip link.
            page.goto(base + "/")
            expect(page).to_have_url(base + "/ui/")
            expect(page.locator("#token")).to_be_focused()
            for name in ("Effectiveness", "Incidents", "Euphrosyne"):
                page.keyboard.press("Shift+Tab")
                expect(page.get_by_role("link", name=name, exact=True)).to_be_focused()
            page.keyboard.press("Shift+Tab")
            expect(page.locator(".skip")).to_be_focused()
            expect(page.locator("#token-form")).to_be_visible()
            expect(page.locator("#view")).to_be_empty()
            page.fill("#token", "not-the-token")
            page.click("#token-form button")
            expect(page.locator("#token-reason")).to_contain_text("refused")
            expect(page.locator("#view")).to_be_empty()

            # With it: the list, and an alert appears in it without a reload.
            page.fill("#token", token)
            page.click("#token-form button")
            expect(page.locator("table.incidents")).to_be_visible()
            expect(page.locator("#token-form")).to_be_hidden()
            expect(page.locator("#content")).to_have_attribute("data-live", "true")
            uuid = serve.alert(FIRING)
            row = page.locator(f"#incident-{uuid}")
            expect(row).to_be_visible(timeout=30_000)
            expect(row).to_contain_text("PodCrashLooping")
            expect(row.locator(".state")).to_have_text("analysed", timeout=30_000)
            no_serious_violations(page, "the list")
            if shots:
                page.screenshot(path=os.path.join(shots, "dashboard-incidents.png"), full_page=True)

            # Its page: the runs and the analysis; its action's button runs it once.
            row.locator("a").click()
            expect(page).to_have_url(f"{base}/ui/incidents/{uuid}")
            expect(page.locator("table").nth(1)).to_contain_text("dummy")
            expect(page.locator("pre.analysis")).to_contain_text("Dummy analysis")
            expect(page.locator("svg[aria-labelledby=timeline-title] rect")).to_have_count(1)
            # By keyboard: the note, then the button.
            page.focus("form.approve input[name=note]")
            page.keyboard.type("from the browser")
            page.keyboard.press("Tab")
            page.keyboard.press("Enter")
            expect(page.locator("#status")).to_contain_text("Approved record", timeout=30_000)
            expect(page.locator(".state").first).to_have_text("done", timeout=30_000)
            expect(page.locator("section[aria-labelledby=approvals-heading]")).to_contain_text("ui:oncall")
            expect(page.locator("svg[aria-labelledby=timeline-title] rect")).to_have_count(2)
            # The outcome: the action's run and what it reported.
            expect(page.locator("section[aria-labelledby=runs-heading] tr", has_text="record")).to_contain_text("reported")
            page.click("form.approve button")
            expect(page.locator("#status")).to_contain_text("already approved", timeout=30_000)
            records = serve.records()
            assert len(records) == 1, records
            assert "from the browser" in records[0], records
            no_serious_violations(page, "an incident")
            if shots:
                page.screenshot(path=os.path.join(shots, "dashboard-incident.png"), full_page=True)

            # Alert text with HTML or script is text.
            page.goto(base + "/ui/")
            evil = serve.alert(hostile())
            expect(page.locator(f"#incident-{evil}")).to_contain_text('<img src=x onerror="window.pwned=1">',
                                                                      timeout=30_000)
            page.goto(f"{base}/ui/incidents/{evil}")
            expect(page.locator("section[aria-labelledby=alerts-heading]")).to_contain_text("<script>window.pwned=2</script>")
            assert page.evaluate("window.pwned") is None, "alert text ran as script"
            assert not dialogs, dialogs

            # The effectiveness page: the incident's figures, per alert and per recipe.
            page.goto(base + "/ui/effectiveness?days=1")
            alerts = page.locator("table.alerts")
            expect(alerts.locator("tr", has_text="PodCrashLooping")).to_contain_text("record (1)", timeout=30_000)
            expect(alerts.locator("tr", has_text="PodCrashLooping").locator("td").first).to_have_text("1")
            expect(page.locator("table.recipes tr", has_text="dummy").locator("td").nth(1)).to_have_text("2")
            expect(page.locator("table.recipes tr", has_text="record").locator("td").nth(2)).to_have_text("1")
            expect(page.locator("svg[role=img]").first).to_be_visible()
            expect(page.locator("svg[role=img] text", has_text="<img src=x").first).to_be_attached()
            assert page.evaluate("window.pwned") is None, "alert text ran as script"
            no_serious_violations(page, "the effectiveness page")
            if shots:
                page.screenshot(path=os.path.join(shots, "dashboard-effectiveness.png"), full_page=True)

            # At 200 % zoom a 1280-pixel window is 640 CSS pixels wide; a phone is 320. The page reflows: nothing
            # wider than the window but the tables, which scroll inside themselves.
            for width in (640, 320):
                page.set_viewport_size({"width": width, "height": 800})
                page.goto(base + "/ui/")
                expect(page.locator(f"#incident-{uuid}")).to_be_attached()
                overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
                assert overflow <= 0, f"the page scrolls sideways by {overflow} px at {width} px"
                no_serious_violations(page, f"the list {width} px wide")
            browser.close()
        print("browser tests passed")
    except Exception:
        print("serve's log ends:\n" + open(serve.log).read()[-4000:], file=sys.stderr)
        raise
    finally:
        serve.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
