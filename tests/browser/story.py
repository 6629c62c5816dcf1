"""The story of a person, in a real browser (Debian's Chromium, driven by
Playwright), against the real binary (`coffre serve --demo`):

log in, add a paper from two phone photos (one with an EXIF rotation), see
it, make a link and open it as the agent, show a paper at the counter,
withdraw a structure's access, read the journal, download everything, log
out, and Back shows nothing.

Run twice: with JavaScript, where axe-core checks every page at 360x640 and
1280x800 (0 violations for wcag2a, wcag2aa, wcag21a, wcag21aa) and a
screenshot of every page is kept under target/ui-screenshots/; and without
JavaScript, where the same story must complete.

Usage: python3 story.py BASE_URL IDENTIFIER SECRET SCREENSHOT_DIR AXE_JS js|nojs
(each run on a fresh demonstration server: the story changes the vault).
"""

import io
import json
import re
import sys
import tempfile
import zipfile
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE, IDENTIFIER, SECRET, SHOTS, AXE, MODE = sys.argv[1:7]
HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
from common import LAUNCH_ARGS, FAILURES, Pages, check, fail, marked  # noqa: E402,F401


class Story(Pages):
    def __init__(self, browser, javascript):
        super().__init__(browser, javascript, BASE, SHOTS, AXE)

    def run(self):
        page = self.page
        # 1. Se connecter.
        self.go("/")
        check(page.url.startswith(BASE + "/connexion"), f"/ leads to the login page, not {page.url}")
        self.look("01-connexion")
        page.fill("#identifier", IDENTIFIER)
        page.fill("#secret", "pas le bon code")
        page.check("input[name=appareil][value=telephone]")
        page.click("button[type=submit] >> text=Ouvrir mon coffre")
        check("pas bon" in page.content().replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u202f", " "), "a wrong code says so in words")
        check(page.locator("#secret").input_value() == "", "the secret is never given back")
        self.look("02-connexion-erreur")
        page.fill("#identifier", IDENTIFIER)
        page.fill("#secret", SECRET)
        page.check("input[name=appareil][value=telephone]")
        page.click("button[type=submit] >> text=Ouvrir mon coffre")
        check(page.url == BASE + "/papiers", f"logged in: {page.url}")
        check(self.h1() == "Mes papiers", "home heading")
        check("n'est plus valable dans 58 jours" in page.content().replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u202f", " "), "validity banner")
        check("Mauvais code" in page.content().replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u202f", " ") or "mauvais code" in page.content().replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u202f", " "),
              "the failed attempt is told after login")
        check("CCAS de Démo-sur-Loire a ajouté" in page.content().replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u202f", " "), "papers added by a structure")
        self.look("03-mes-papiers")

        # 2. Ajouter un papier from two photos (one turned by EXIF).
        page.click("text=Ajouter un papier")
        self.look("04-ajouter")
        page.check("input[name=categorie][value=identity]")
        page.fill("#titre", "Passeport")
        page.fill("#valable", "2031-05-20")
        page.set_input_files("#photo1", str(FIXTURES / "passeport-page1-exif6.jpg"))
        page.set_input_files("#photo2", str(FIXTURES / "passeport-page2.jpg"))
        page.click("button >> text=Ajouter ce papier")
        check(re.search(r"/papiers/[0-9a-f]{32}$", page.url) is not None, f"paper page: {page.url}")
        check(self.h1() == "Passeport", "the paper's title")
        self.look("05-un-papier-pdf")
        paper_url = page.url
        with page.expect_download() as dl:
            page.click("text=Télécharger")
        pdf = Path(dl.value.path()).read_bytes()
        check(pdf.startswith(b"%PDF-"), "two photos became one PDF")
        check(pdf.count(b"/DCTDecode") == 2, "both photos embedded as JPEG")
        check(b"/Count 2" in pdf, "two pages")
        photo = FIXTURES.joinpath("passeport-page1-exif6.jpg").read_bytes()
        check(photo[photo.index(b"\xff\xda"):] in pdf,
              "the photo's pixels are embedded untouched (never decoded)")

        # One photo alone stays a photo, shown in the page.
        self.go("/ajouter?categorie=residence")
        page.fill("#titre", "Récépissé")
        page.set_input_files("#photo1", str(FIXTURES / "passeport-page2.jpg"))
        page.click("button >> text=Ajouter ce papier")
        check(page.locator(".paper-view img").count() == 1, "a photo is shown in the page")
        if self.javascript:
            loaded = page.evaluate("document.querySelector('.paper-view img').naturalWidth")
            check(loaded > 0, "the photo loads")
        self.look("06-un-papier-photo")

        # A HEIC photo is refused with what to do.
        self.go("/ajouter")
        page.check("input[name=categorie][value=health]")
        heic = Path(self.user_data) / "photo.heic"
        heic.write_bytes(b"\x00\x00\x00\x18ftypheic")
        page.set_input_files("#fichier", str(heic))
        page.click("button >> text=Ajouter ce papier")
        check("HEIC" in page.content().replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u202f", " ") and "Le plus compatible" in page.content().replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u202f", " "),
              "HEIC refused with the way to send a JPEG")
        self.look("07-ajouter-erreur")

        # 3. A link for the agent.
        page.goto(paper_url)
        page.click("text=Envoyer un lien")
        self.look("08-lien")
        page.fill("#pour", "CAF de Lyon")
        page.check("input[name=duree][value='1']")
        page.click("button >> text=Faire le lien")
        link = page.locator(".secret-link").inner_text().strip()
        check(link.startswith(BASE + "/s/"), f"the link: {link}")
        self.look("09-lien-pret")
        agent = self.context.browser.new_context(java_script_enabled=self.javascript, bypass_csp=self.javascript, accept_downloads=True)
        agent_page = agent.new_page()
        agent_page.goto(link)
        check("Un document vous a été transmis" in agent_page.content().replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u202f", " "), "the agent's page")
        with agent_page.expect_download() as dl:
            agent_page.click("button")
        copy = Path(dl.value.path()).read_bytes()
        check(marked(copy, "Copie transmise à CAF de Lyon le "), "the agent's copy carries the mark")
        check(copy.count(b"/DCTDecode") == 2, "the agent's copy holds the two photos")
        agent_page.goto(link)
        check("ne marche plus" in agent_page.content().replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u202f", " "), "a single-use link is used up")
        agent.close()

        # A printed duplicate carries its own mark.
        duplicate = page.request.get(paper_url + "/duplicata").body()
        check(marked(duplicate, "Duplicata imprimé le "), "a duplicate says so")

        # 4. Counter mode: the paper full screen, a QR code and a short code.
        self.go("/papiers")
        page.click("text=Montrer un papier")
        self.look("10-montrer-choisir")
        page.click("text=Carte d'identité")
        check(page.locator(".paper-view img").count() == 1, "the card full screen")
        self.look("11-montrer")
        page.fill("#pour", "Préfecture du Rhône")
        page.click("button >> text=Donner un code à l'agent")
        check(page.locator("img.qr").count() == 1, "a QR code")
        code = page.locator(".short-code").inner_text().strip()
        check(re.fullmatch(r"[2-9A-HJ-NP-Z]{3}-[2-9A-HJ-NP-Z]{3}-[2-9A-HJ-NP-Z]{3}", code) is not None,
              f"a short code: {code!r}")
        self.look("12-guichet")
        counter_url = page.url
        agent = self.context.browser.new_context(java_script_enabled=self.javascript, bypass_csp=self.javascript, accept_downloads=True)
        agent_page = agent.new_page()
        agent_page.goto(BASE + "/c")
        self.agent_look(agent_page, "13-guichet-agent")
        # The agent's browser shows the copy inline (its PDF viewer); the
        # bytes are read through the same browser's request API.
        answer = agent.request.post(BASE + "/c", form={"code": code.lower().replace("-", " ")},
                                    headers={"Origin": BASE})
        check(answer.status == 200, f"the counter copy: {answer.status}")
        check(answer.headers.get("content-disposition", "").startswith("inline"),
              "the counter copy is shown, not saved")
        copy = answer.body()
        check(marked(copy, "Copie transmise à Préfecture du Rhône le "), "the counter copy's mark")
        agent_page.goto(BASE + "/c")
        agent_page.fill("#code", code)
        agent_page.click("button >> text=Voir la copie")
        check("Ce code ne marche pas" in agent_page.content().replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u202f", " "), "a counter code serves once")
        agent.close()
        # "Arrêter de montrer" ends a code at once.
        page.goto(counter_url)
        check("ne marche plus" in page.content().replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u202f", " ") or "plus là" in page.content().replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u202f", " "),
              "a used counter link is no longer shown")
        self.go("/papiers")
        page.click("text=Montrer un papier")
        page.click("text=Carte d'identité")
        page.click("button >> text=Donner un code à l'agent")
        code = page.locator(".short-code").inner_text().strip()
        page.click("button >> text=Arrêter de montrer")
        agent = self.context.browser.new_context(java_script_enabled=self.javascript, bypass_csp=self.javascript, accept_downloads=True)
        agent_page = agent.new_page()
        agent_page.goto(BASE + "/c")
        agent_page.fill("#code", code)
        agent_page.click("button >> text=Voir la copie")
        check("Ce code ne marche pas" in agent_page.content().replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u202f", " "), "a stopped counter code is dead")
        agent.close()

        # 5. Qui voit mes papiers: withdraw the structure's access.
        self.go("/acces")
        check("CCAS de Démo-sur-Loire peut voir et ajouter" in page.content().replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u202f", " "), "the grant in words")
        self.look("14-qui-voit")
        page.click("text=Retirer l'accès")
        self.look("15-retirer-confirmer")
        page.click("button >> text=Retirer l'accès")
        check(page.url == BASE + "/acces", "back to the access page")
        check("Aucune structure ne peut voir vos papiers" in page.content().replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u202f", " "), "access withdrawn")

        # 6. The journal, in sentences naming the structure.
        self.go("/journal")
        text = page.content().replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u202f", " ")
        check("CCAS de Démo-sur-Loire a ajouté « Attestation CAF »" in text, "journal names the structure")
        check("Vous avez retiré un accès" in text, "journal has the withdrawal")
        check("Quelqu'un qui avait un lien a téléchargé « Passeport »" in text, "journal has the link download")
        check("Vous avez montré « Carte d'identité » au guichet" in text, "journal has the counter")
        check("L'agent du guichet a reçu une copie de « Carte d'identité »" in text,
              "journal has the counter copy")
        check("Vous avez imprimé un duplicata de « Passeport »" in text, "journal has the duplicate")
        check("caseworker:" not in text and "beneficiary:" not in text, "no ids in the journal")
        self.look("16-journal")

        # 7. Mon compte, and everything as a ZIP.
        self.go("/compte")
        self.look("17-compte")
        with page.expect_download() as dl:
            page.click("text=Tout récupérer >> nth=-1")
        archive = zipfile.ZipFile(io.BytesIO(Path(dl.value.path()).read_bytes()))
        names = archive.namelist()
        check(len([n for n in names if not n.endswith("/")]) >= 5, f"the ZIP holds the papers: {names}")
        self.go("/compte/supprimer")
        self.look("18-supprimer-compte")
        self.go("/accessibilite")
        self.look("19-accessibilite")
        self.go("/aide")
        self.look("20-aide")
        self.go("/papiers/categorie/identity")
        self.look("21-categorie")
        self.go("/nulle-part")
        check(self.h1() == "Page introuvable", "a 404 page in words")
        self.look("22-introuvable")

        # 8. Log out; Back shows nothing.
        self.go("/papiers")
        page.click("button >> text=Me déconnecter")
        check(page.url.startswith(BASE + "/connexion"), f"logged out: {page.url}")
        check("Vous êtes déconnecté" in page.content().replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u202f", " "), "logout said")
        page.go_back()
        check(self.h1() != "Mes papiers" and "Carte d'identité" not in page.content().replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u202f", " "),
              f"Back after logout shows nothing: {page.url}")
        self.go("/papiers")
        check(page.url.startswith(BASE + "/connexion"), "the session is over")

        check(not self.foreign, f"requests to another origin: {self.foreign}")
        self.context.close()


def main():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=LAUNCH_ARGS)
        javascript = MODE == "js"
        print(f"== story with JavaScript {'on' if javascript else 'off'}", flush=True)
        Story(browser, javascript).run()
        browser.close()
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        sys.exit(1)
    print(f"browser story ({MODE}): all checks passed")


if __name__ == "__main__":
    main()
