"""What the browser stories share: Chromium's launch flags, failures
collected and reported at the end, and `Pages`, a browser context whose
`look` checks a page (title, lang; with JavaScript, axe-core at 360x640 and
1280x800 and no horizontal scroll at 360 px) and keeps its screenshot."""

import tempfile
from pathlib import Path

LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILURES = []


def fail(message):
    FAILURES.append(message)
    print("FAIL:", message, flush=True)


def marked(pdf, words):
    """Whether a PDF carries `words` in a mark (WinAnsi, hex in a content
    stream, as Coffre writes it)."""
    return pdf.startswith(b"%PDF-") and words.encode("cp1252").hex().upper().encode() in pdf


def check(condition, message):
    if not condition:
        fail(message)


class Pages:
    def __init__(self, browser, javascript, base, shots, axe):
        self.base = base
        self.shots = shots
        self.javascript = javascript
        self.mode = "js" if javascript else "nojs"
        self.user_data = tempfile.mkdtemp(prefix="coffre-browser-")
        self.context = browser.new_context(
            java_script_enabled=javascript,
            viewport={"width": 360, "height": 640},
            accept_downloads=True,
            locale="fr-FR",
            # axe-core is injected as an inline script, which the pages'
            # policy (rightly) refuses.
            bypass_csp=javascript,
        )
        self.page = self.context.new_page()
        self.foreign = []
        self.page.on("request", self.on_request)
        self.axe_source = Path(axe).read_text() if javascript else None
        self.pages_seen = []

    def on_request(self, request):
        if not request.url.startswith(self.base) and not request.url.startswith("data:"):
            self.foreign.append(request.url)

    def look(self, name):
        """Every page: a title, axe at two sizes (with JavaScript), a
        screenshot at 360 px wide."""
        page = self.page
        title = page.title()
        check(title.endswith("— Coffre"), f"{name}: title {title!r}")
        check(page.locator("html").get_attribute("lang") in ("fr", "en"), f"{name}: lang")
        self.pages_seen.append((name, title))
        if self.javascript:
            for width, height in ((360, 640), (1280, 800)):
                page.set_viewport_size({"width": width, "height": height})
                page.add_script_tag(content=self.axe_source)
                result = page.evaluate(
                    "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})",
                    AXE_TAGS,
                )
                for v in result["violations"]:
                    nodes = [n["target"] for n in v["nodes"]][:3]
                    fail(f"{name} at {width}px: axe {v['id']} ({v['impact']}): {v['help']} {nodes}")
                # No horizontal scroll at 360 px.
                if width == 360:
                    wide = page.evaluate("document.documentElement.scrollWidth")
                    check(wide <= 360, f"{name}: {wide}px wide at 360px (horizontal scroll)")
            page.set_viewport_size({"width": 360, "height": 640})
            Path(self.shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=f"{self.shots}/{name}.png", full_page=True)

    def agent_look(self, agent_page, name):
        """The agent's pages are pages too."""
        saved = self.page
        self.page = agent_page
        try:
            self.look(name)
        finally:
            self.page = saved

    def go(self, path):
        self.page.goto(self.base + path)

    def h1(self):
        return self.page.locator("h1").first.inner_text()
