"""The desk's story, in a real browser (Debian's Chromium, driven by
Playwright), against the real binary (`coffre serve --demo`):

the structure's admin logs in (password and a recovery code) and invites
Julie; Julie, in her own browser, activates her account, reads the key of
her second factor from the page and logs in with a code of it (TOTP, RFC
6238); she enrols Léa with the hand-over (Léa accepts the consent and
types her passphrase on Julie's screen, then "Rendre la main"), and the
access card and the receipt print (print media: the menu is not printed,
the card and the receipt are); she scans a two-page paper for Léa, sends a
link to "CAF de Lyon" (the copy carries its mark), and sees the
expiring-papers list; Léa, in her own browser, withdraws the consent, and
Julie's next look at Léa's file shows no paper. A caseworker of another
structure sees nothing of Léa, even with the address of her file.

Run with JavaScript (axe-core on every page at 360x640 and 1280x800,
screenshots under target/ui-screenshots/desk-*) and without.

Usage: python3 desk.py BASE_URL SCREENSHOT_DIR AXE_JS js|nojs ADMIN_LOGIN
       ADMIN_PASSWORD RECOVERY_CODE OTHER_LOGIN OTHER_PASSWORD OTHER_CODE
(OTHER_*: the admin of another structure, which none of the people chose)
"""

import base64
import hmac
import re
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from common import FAILURES, LAUNCH_ARGS, Pages, check, marked

BASE, SHOTS, AXE, MODE, ADMIN, ADMIN_PASSWORD, RECOVERY = sys.argv[1:8]
OTHER, OTHER_PASSWORD, OTHER_CODE = sys.argv[8:11]
FIXTURES = Path(__file__).parent / "fixtures"


def totp(key, at=None):
    """RFC 6238 with HMAC-SHA-1, 6 digits, 30-second steps (what an
    authenticator app computes from the key the page shows)."""
    key = key.replace(" ", "").upper()
    raw = base64.b32decode(key + "=" * (-len(key) % 8))
    counter = int((at if at is not None else time.time()) // 30)
    mac = hmac.new(raw, counter.to_bytes(8, "big"), "sha1").digest()
    offset = mac[-1] & 15
    value = (int.from_bytes(mac[offset:offset + 4], "big") & 0x7FFFFFFF) % 1_000_000
    return f"{value:06d}"


def words(page):
    return page.content().replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u202f", " ").replace("&#39;", "'")


class Desk(Pages):
    def __init__(self, browser, javascript, name):
        super().__init__(browser, javascript, BASE, SHOTS, AXE)
        self.name = name

    def look(self, name):
        super().look(f"desk-{name}")


def run(browser, javascript):
    admin = Desk(browser, javascript, "admin")
    page = admin.page

    # 1. The admin logs in: a password alone is refused.
    admin.go("/pro")
    check(page.url.startswith(BASE + "/pro/connexion"), f"/pro leads to the login page: {page.url}")
    admin.look("01-connexion")
    page.fill("#login", ADMIN)
    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit] >> text=Se connecter")
    check("code incorrect" in words(page), "a password alone is refused in words")
    admin.look("02-connexion-refusee")
    page.fill("#login", ADMIN)
    page.fill("#password", ADMIN_PASSWORD)
    page.fill("#code", RECOVERY)
    page.click("button[type=submit] >> text=Se connecter")
    check(admin.h1() == "Les personnes que vous accompagnez", f"the dashboard: {admin.h1()!r}")
    admin.look("03-tableau-de-bord")
    # The expiring-papers list: Marie's identity card ends within 60 days.
    expiring = page.locator("table.expiring").inner_text()
    check("Marie Démo" in expiring and "Identité" in expiring, f"expiring papers: {expiring!r}")

    # 2. Ma structure: invite Julie.
    page.click("nav >> text=Ma structure")
    admin.look("04-ma-structure")
    page.fill("#login", "julie")
    page.click("button >> text=Créer l'invitation")
    code = page.locator("code.key").inner_text().strip()
    check(len(code) >= 40, f"an invitation code: {code!r}")
    admin.look("05-invitation")

    # 3. Julie, in her own browser, activates her account, sets up her app.
    julie = Desk(browser, javascript, "julie")
    jp = julie.page
    julie.go("/pro/activer")
    julie.look("06-activer")
    jp.fill("#code", code)
    jp.fill("#password", "mot-de-passe-de-julie")
    jp.fill("#password2", "mot-de-passe-de-julie")
    jp.click("button >> text=Activer mon compte")
    check(jp.locator("img.qr").count() == 1, "the second factor's QR code")
    key = jp.locator("code.key").inner_text()
    check(jp.locator(".codes code").count() == 10, "ten recovery codes")
    julie.look("07-second-facteur")
    jp.click("text=Me connecter")
    jp.fill("#login", "julie")
    jp.fill("#password", "mot-de-passe-de-julie")
    jp.fill("#code", totp(key))
    jp.click("button[type=submit] >> text=Se connecter")
    check(julie.h1() == "Les personnes que vous accompagnez", f"Julie's dashboard: {julie.h1()!r}")

    # 4. Enrolment with the hand-over.
    jp.click("nav >> text=Inscrire une personne")
    julie.look("08-inscrire")
    jp.fill("#nom", "Léa Martin")
    jp.fill("#identifiant", "lea")
    jp.click("button >> text=Passer la main à la personne")
    check(julie.h1() == "Léa, c'est à vous.", f"the hand-over says whose turn it is: {julie.h1()!r}")
    text = words(jp)
    check("pourra voir et ajouter vos papiers de ces catégories : Identité, Aides et prestations, pendant 31 jours, jusqu" in text,
          "the consent in a sentence")
    julie.look("09-a-vous")
    # Léa's turn: she accepts, chooses the trustee, types her passphrase.
    jp.check("input[name=accord][value=oui]")
    jp.check("input[name=confiance][value=oui]")
    passphrase = "girafe verte tambour matin"
    jp.fill("#secret", passphrase)
    jp.fill("#secret2", passphrase)
    jp.click("button >> text=Rendre la main")
    check(julie.h1() == "C'est fait", f"enrolled: {julie.h1()!r}")
    check(passphrase not in words(jp), "the secret never shows once handed back")
    identifier = jp.locator("p.identifier").inner_text().strip()
    check(identifier.startswith("lea-"), f"her identifier: {identifier!r}")
    julie.look("10-inscrite")
    # What prints: the card and the receipt, not the menu.
    jp.emulate_media(media="print")
    check(not jp.locator("header.top nav").is_visible(), "the menu does not print")
    card = jp.locator(".printable.card").inner_text()
    receipt = jp.locator(".printable.receipt").inner_text()
    check(identifier in card and "CCAS de Démo-sur-Loire" in card and "01 23 45 67 89" in card, f"the card: {card!r}")
    check("code secret n'est pas écrit" in card, "no secret on the card")
    check("Identité, Aides et prestations" in receipt and "Qui voit mes papiers" in receipt, f"the receipt: {receipt!r}")
    pdf = jp.pdf() if javascript else b"%PDF-"
    check(pdf.startswith(b"%PDF-"), "the page prints to a PDF")
    jp.emulate_media(media="screen")

    # 5. Scan a two-page paper for Léa.
    jp.click("text=Voir sa fiche")
    lea_file = jp.url
    julie.look("11-fiche")
    jp.click("text=Numériser un papier pour cette personne")
    julie.look("12-numeriser")
    jp.check("input[name=categorie][value=social_benefits]")
    jp.fill("#titre", "Attestation CAF")
    jp.set_input_files("#fichier", [str(FIXTURES / "passeport-page1-exif6.jpg"), str(FIXTURES / "passeport-page2.jpg")])
    jp.click("button >> text=Ajouter au coffre de la personne")
    check("a été ajouté" in words(jp) and "Attestation CAF" in words(jp), "the scanned paper is in her file")
    julie.look("13-fiche-apres-ajout")

    # 6. Send it to "CAF de Lyon".
    jp.click("a:has-text('Envoyer')")
    julie.look("14-envoyer")
    jp.fill("#pour", "CAF de Lyon")
    jp.click("button >> text=Faire le lien")
    url = jp.locator(".secret-link").inner_text().strip()
    julie.look("15-lien")
    agent = browser.new_context()
    response = agent.request.post(url)
    check(response.ok and marked(response.body(), "Copie transmise à CAF de Lyon le "),
          "the copy the link gives carries its mark")
    agent.close()

    # 7. Léa withdraws the consent from her own space.
    lea = Desk(browser, javascript, "lea")
    lp = lea.page
    lea.go("/connexion")
    lp.fill("#identifier", identifier)
    lp.fill("#secret", passphrase)
    lp.check("input[name=appareil][value=telephone]")
    lp.click("button[type=submit] >> text=Ouvrir mon coffre")
    check(lp.url == BASE + "/papiers", f"Léa is in her space: {lp.url}")
    lea.go("/acces")
    lp.click("text=Retirer l'accès >> nth=0")
    lp.click("button >> text=Retirer l'accès")
    check(lp.url == BASE + "/acces", f"back to her access page: {lp.url}")
    check("Aucune structure ne peut voir vos papiers" in words(lp), "the access is withdrawn")
    # Julie's next look at Léa's file shows no paper.
    jp.goto(lea_file)
    text = words(jp)
    check("Attestation CAF" not in text, "withdrawn: the papers are gone from Julie's page")
    check("aucune catégorie" in text, "the file says why")
    julie.look("16-fiche-apres-retrait")

    # 8. Another structure's caseworker sees nothing of Léa.
    stranger = Desk(browser, javascript, "other")
    sp = stranger.page
    stranger.go("/pro/connexion")
    sp.fill("#login", OTHER)
    sp.fill("#password", OTHER_PASSWORD)
    sp.fill("#code", OTHER_CODE)
    sp.click("button[type=submit] >> text=Se connecter")
    check(stranger.h1() == "Les personnes que vous accompagnez", f"the other desk: {stranger.h1()!r}")
    check("Léa" not in words(sp) and "Marie" not in words(sp), "the other structure's dashboard shows none of them")
    sp.goto(lea_file)
    check(stranger.h1() == "Page introuvable" and "Léa" not in words(sp), "Léa's file does not exist for them")
    stranger.context.close()

    # 9. The admin's report: counts only, small ones hidden.
    admin.go("/pro/rapport")
    check(admin.h1() == "Rapport d'activité", f"the report: {admin.h1()!r}")
    report = page.inner_text("main")
    check("Léa" not in report and "Marie" not in report and "< 5" in report, "the report names no one")
    admin.look("17-rapport")
    csv = page.request.get(BASE + "/pro/rapport.csv")
    check(csv.ok and csv.text().startswith("mois,personnes_inscrites"), "the report as CSV")
    admin.go("/pro/personnes/00000000000000000000000000000000")
    check(admin.h1() == "Page introuvable", f"a person of no one's: {admin.h1()!r}")
    admin.look("18-introuvable")

    # 10. Julie logs out.
    jp.click("button >> text=Me déconnecter")
    check(jp.url.startswith(BASE + "/pro/connexion"), f"logged out: {jp.url}")

    for who in (admin, julie, lea):
        check(not who.foreign, f"requests to another origin: {who.foreign}")
        who.context.close()


def main():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=LAUNCH_ARGS)
        javascript = MODE == "js"
        print(f"== desk story with JavaScript {'on' if javascript else 'off'}", flush=True)
        run(browser, javascript)
        browser.close()
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        sys.exit(1)
    print(f"desk story ({MODE}): all checks passed")


if __name__ == "__main__":
    main()
