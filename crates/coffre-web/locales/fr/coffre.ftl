# Coffre — les mots des pages, en français.
# Règles : « papier » (jamais document, pièce, justificatif) ; « vous » ;
# une idée par phrase ; les dates en lettres (« 3 mars 2026 ») ; pas de sigle
# sans explication.

## Cadre de chaque page
skip-link = Aller au contenu
demo-banner = DÉMONSTRATION — rien ici n'est vrai
nav-label = Menu
nav-papers = Mes papiers
nav-access = Qui voit mes papiers
nav-journal = Ce qui s'est passé
nav-account = Mon compte
logout = Me déconnecter
footer-accessibility = Accessibilité : partiellement conforme
footer-help = Aide
session-note = { $n ->
    [one] Sans action de votre part, vous serez déconnecté dans 1 minute.
   *[other] Sans action de votre part, vous serez déconnecté dans { $n } minutes.
}
session-ending = Vous allez être déconnecté dans une minute. Voulez-vous continuer ?
session-continue = Continuer
form-error-summary = Il y a un problème
cancel = Annuler, revenir en arrière
back-to-papers = Retour à mes papiers
back-to = Retour :
and = et
you = Vous
someone-structure = Une structure

## Dates
date = { $day } { $month } { $year }
moment = { $day } { $month } { $year } à { $hour } h { $minute }
month-1 = janvier
month-2 = février
month-3 = mars
month-4 = avril
month-5 = mai
month-6 = juin
month-7 = juillet
month-8 = août
month-9 = septembre
month-10 = octobre
month-11 = novembre
month-12 = décembre

## Catégories de papiers
cat-identity = Identité
cat-residence = Titre de séjour
cat-family = Famille
cat-social_benefits = Aides et prestations
cat-health = Santé
cat-housing = Logement
cat-employment = Travail
cat-income_taxes = Impôts
cat-other = Autres papiers
papers-count = { $n ->
    [0] aucun papier
    [one] 1 papier
   *[other] { $n } papiers
}
size-kb = { $n } ko
size-mb = { $mb } Mo

## Se connecter
login-title = Se connecter
login-heading = Ouvrir mon coffre
login-ended = Vous êtes déconnecté. Vos papiers sont en sécurité.
login-identifier = Votre identifiant
login-identifier-hint = (il est écrit sur votre carte Coffre)
login-secret = Votre phrase secrète ou votre code
login-secret-code = Votre code (des chiffres)
login-digits-instead = Mon code est fait de chiffres
login-words-instead = Mon secret est fait de mots
login-device = Sur quel appareil êtes-vous ?
login-device-mine = C'est mon téléphone
login-device-shared = C'est un ordinateur partagé (accueil, bibliothèque…)
login-device-hint = Sur un ordinateur partagé, vous serez déconnecté après 5 minutes sans action.
login-submit = Ouvrir mon coffre
login-forgot = J'ai oublié mon code
login-missing = Écrivez votre identifiant et votre secret.

## Aide
help-title = Aide
help-forgot-heading = J'ai oublié mon code
help-forgot-1 = Allez voir la structure qui vous a aidé à ouvrir votre coffre (un CCAS, une association). Son nom et son téléphone sont sur votre carte Coffre.
help-forgot-2 = Si vous l'avez choisie comme structure de confiance, deux personnes de cette structure peuvent vous donner un nouveau code. Vos papiers ne sont pas perdus.
help-what-heading = Qu'est-ce que Coffre ?
help-what-1 = Coffre garde une copie de vos papiers. Vous pouvez toujours les récupérer, même si vous perdez votre téléphone.
help-what-2 = Personne ne voit vos papiers sans votre accord. Vous voyez qui les a regardés.

## Accessibilité
a11y-title = Accessibilité
a11y-intro = Coffre veut être utilisable par tout le monde, y compris avec un lecteur d'écran, un agrandissement de l'écran ou sans souris.
a11y-status-heading = État de conformité
a11y-status = Ce site est partiellement conforme au référentiel général d'amélioration de l'accessibilité (RGAA, version 4.1), en attendant un audit par une personne spécialisée.
a11y-tested-heading = Ce qui a été vérifié
a11y-tested = Chaque page est vérifiée automatiquement (outil axe-core) sur un téléphone et sur un ordinateur, et fonctionne sans JavaScript.
a11y-limits-heading = Ce qui peut encore poser problème
a11y-limits = Les papiers que vous ajoutez (photos, fichiers PDF) ne sont pas décrits pour un lecteur d'écran : leur titre seul est lu.
a11y-contact-heading = Nous signaler un problème
a11y-contact = Si une page vous pose problème, dites-le à la structure qui vous accompagne : elle nous transmettra.
a11y-defenseur = Si vous n'avez pas de réponse, vous pouvez écrire au Défenseur des droits (defenseurdesdroits.fr, ou par courrier : Défenseur des droits, Libre réponse 71120, 75342 Paris CEDEX 07).

## Mes papiers
home-title = Mes papiers
home-heading = Mes papiers
home-add = Ajouter un papier
home-show = Montrer un papier
home-categories = Mes papiers par sorte
banner-see = Voir
banner-understood = J'ai compris
banner-failures = { $n ->
    [one] Quelqu'un a essayé d'ouvrir votre coffre avec un mauvais code, 1 fois, depuis votre dernière visite.
   *[other] Quelqu'un a essayé d'ouvrir votre coffre avec un mauvais code, { $n } fois, depuis votre dernière visite.
}
banner-recovery = { $structure } vous a donné un nouveau code le { $date }. Si ce n'était pas à votre demande, allez voir une autre structure.
validity-soon = { $n ->
    [0] « { $title } » n'est plus valable à partir de demain.
    [one] « { $title } » n'est plus valable dans 1 jour.
   *[other] « { $title } » n'est plus valable dans { $n } jours.
}
validity-ended = « { $title } » n'est plus valable depuis le { $date }.
category-empty = Vous n'avez pas encore de papier ici.
paper-added-on = Ajouté le { $date }

## Un papier
paper-no-preview = Ce papier ne peut pas être montré dans la page. Téléchargez-le pour le voir.
paper-download = Télécharger
paper-send-link = Envoyer un lien
paper-about = À propos de ce papier
paper-category = Sorte
paper-added = Ajouté le
paper-added-by = Ajouté par
paper-file = Fichier
paper-valid-until = Valable jusqu'au
paper-who-sees = Qui peut le voir
paper-private = Vous seulement
paper-shared = Vous, et les structures que vous avez autorisées pour cette sorte de papier
paper-make-private = Le garder pour moi seulement
paper-make-shared = Le montrer aux structures autorisées
paper-delete = Supprimer ce papier
paper-quoted = « { $title } »
paper-unknown = un papier supprimé depuis
paper-none = votre coffre
delete-title = Supprimer ce papier ?
delete-what = Vous allez supprimer « { $title } ».
delete-consequence = Personne ne pourra plus le voir, ni vous ni les structures. Les liens envoyés ne marcheront plus. On ne peut pas revenir en arrière.
delete-button = Oui, supprimer ce papier

## Ajouter un papier
add-title = Ajouter un papier
add-category = Quelle sorte de papier ?
add-name = Son nom
add-name-hint = (par exemple : Carte d'identité)
add-valid = Valable jusqu'au
add-valid-hint = (si c'est écrit dessus ; vous serez prévenu avant la fin)
add-who = Qui peut le voir ?
add-who-structures = Moi, et les structures que j'ai autorisées pour cette sorte de papier
add-who-me = Moi seulement
add-the-paper = Le papier
add-paper-hint = Prenez une photo de chaque page. Plusieurs photos font un seul papier.
add-photo = { $n ->
    [one] Prendre une photo (page 1)
   *[other] Prendre une photo (page { $n })
}
add-photo-more = (seulement s'il y a une autre page)
add-or = Ou bien :
add-file = Choisir un fichier
add-file-hint = (photo JPEG, PDF… ; plusieurs photos font un seul papier)
add-submit = Ajouter ce papier
add-bad-date = La date n'est pas bonne. Écrivez-la comme ceci : 31/12/2027.
add-no-category = Choisissez la sorte de papier.
add-no-file = Prenez une photo ou choisissez un fichier.
add-both = Prenez des photos ou choisissez un fichier, pas les deux.
add-heic = Cette photo est au format HEIC (iPhone), que Coffre ne sait pas lire. Sur l'iPhone : Réglages, puis Appareil photo, puis Formats, puis « Le plus compatible ». Ou envoyez une capture d'écran de la photo.
add-photo-not-jpeg = Une photo n'est pas au format JPEG. Prenez la photo avec le bouton « Prendre une photo », ou choisissez une photo JPEG.
add-photo-too-large = Les photos sont trop lourdes (15 Mo par photo, 60 Mo en tout). Prenez-les en moins bonne qualité.
add-too-many-photos = Il y a trop de photos : 20 au plus pour un papier.
add-too-large = Ce papier est trop lourd. Essayez une photo, ou un fichier plus petit.
add-invalid = Ce papier ne peut pas être ajouté tel quel (un nom trop long ?). Réessayez.
suggest-id-card = Carte d'identité
suggest-passport = Passeport
suggest-residence-permit = Titre de séjour
suggest-receipt = Récépissé de demande de titre de séjour
suggest-caf = Attestation CAF
suggest-vitale = Carte Vitale
suggest-css = Attestation de complémentaire santé solidaire
suggest-tax = Avis d'impôt
suggest-rent = Quittance de loyer
suggest-payslip = Fiche de paie
suggest-france-travail = Attestation France Travail
suggest-birth = Acte de naissance

## Envoyer un lien
link-title = Envoyer un lien
link-explain = Un lien permet à quelqu'un qui n'a pas de compte (un agent de la CAF, un propriétaire) de télécharger ce papier. Vous pouvez l'arrêter quand vous voulez.
link-how-long = Pendant combien de temps ?
link-1-day = 1 jour
link-7-days = 7 jours
link-30-days = 30 jours
link-how-many = Combien de fois peut-il servir ?
link-once = 1 fois
link-3-times = 3 fois
link-make = Faire le lien
link-made-title = Votre lien est prêt
link-made-copy = Copiez ce lien et envoyez-le à la personne (par SMS, par message) :
link-made-until = Il marche jusqu'au
link-made-once = Ce lien n'est montré qu'une fois : Coffre ne le garde pas. Vous pouvez l'arrêter dans « Qui voit mes papiers ».
link-uses = { $n ->
    [one] Il sert 1 fois.
   *[other] Il sert { $n } fois.
}
link-back = Retour au papier
link-see-all = Voir tous mes liens
link-stop = Arrêter ce lien
link-line = { $n ->
    [one] Un lien vers { $title } : il peut encore servir 1 fois, jusqu'au { $date }.
   *[other] Un lien vers { $title } : il peut encore servir { $n } fois, jusqu'au { $date }.
}

## Montrer un papier
show-title = Montrer un papier
show-choose = Choisissez le papier à montrer. Il s'affichera en grand.
show-not-image = Ce papier ne peut pas être montré en grand dans la page.
show-open = L'ouvrir
show-stop = Arrêter de montrer

## Qui voit mes papiers
access-title = Qui voit mes papiers
access-intro = Ici, vous voyez qui peut voir vos papiers et jusqu'à quand. Vous pouvez retirer un accès à tout moment.
access-structures = Les structures
access-no-structure = Aucune structure ne peut voir vos papiers.
access-links = Les liens que vous avez envoyés
access-no-link = Aucun lien en cours.
grant-view = { $structure } peut voir vos papiers « { $categories } » jusqu'au { $date }.
grant-upload = { $structure } peut ajouter des papiers « { $categories } » dans votre coffre jusqu'au { $date }. Elle ne peut pas les voir.
grant-view-upload = { $structure } peut voir et ajouter vos papiers « { $categories } » jusqu'au { $date }.
withdraw-title = Retirer cet accès ?
withdraw-consequence = Dès maintenant, cette structure ne pourra plus voir ni ajouter ces papiers. Les liens qu'elle a envoyés ne marcheront plus. Vous pourrez lui redonner un accès plus tard, à son bureau.
withdraw-button = Retirer l'accès

## Ce qui s'est passé
journal-title = Ce qui s'est passé
journal-intro = Tout ce qui a été fait avec vos papiers est écrit ici, même ce qui a été refusé. Personne ne peut effacer ces lignes.
journal-kept = À retenir
journal-all = Tout, du plus récent au plus ancien
journal-show-own = Afficher aussi les papiers que vous avez regardés vous-même
journal-hide-own = Cacher les papiers que vous avez regardés vous-même
journal-empty = Rien pour le moment.
journal-refused = Refusé :
journal-older = Voir plus ancien
journal-print = Pour imprimer cette page, utilisez le menu de votre navigateur (Imprimer).
who-someone = Quelqu'un
who-link = Quelqu'un qui avait un lien
who-operator = Le service Coffre
who-system = Coffre
j-other = { $you ->
    [yes] Vous avez fait ceci : { $what }.
   *[other] { $who } a fait ceci : { $what }.
}
j-denied = { $you ->
    [yes] Vous avez essayé de { $what }, et c'était refusé.
   *[other] { $who } a essayé de { $what }, et c'était refusé.
}
j-failed = Coffre n'a pas pu { $what } (une panne ; réessayez plus tard).
j-failed-by = { $who } n'a pas pu { $what } : { $why }.
j-failed-after = En fait, { $who } n'a pas pu { $what } : { $why }.
why-damaged = la copie gardée par Coffre est abîmée
why-down = Coffre était en panne
jw-other = faire une opération
jw-session-create = ouvrir votre coffre
j-session-create = { $you ->
    [yes] Vous avez ouvert votre coffre.
   *[other] { $who } a ouvert votre coffre.
}
jw-beneficiary-enroll = créer votre coffre
j-beneficiary-enroll = { $who } a créé votre coffre avec vous.
jw-beneficiary-see = voir votre nom
j-beneficiary-see = { $you ->
    [yes] Vous avez regardé votre fiche.
   *[other] { $who } a regardé votre fiche.
}
jw-grant-create = donner un accès
j-grant-create = Vous avez donné un accès à { $structure }.
jw-grant-list = voir les accès que vous avez donnés
j-grant-list = { $you ->
    [yes] Vous avez regardé qui voit vos papiers.
   *[other] { $who } a regardé l'accès que vous lui avez donné.
}
jw-grant-revoke = retirer un accès
j-grant-revoke = { $you ->
    [yes] Vous avez retiré un accès.
   *[other] { $who } a retiré un accès.
}
jw-grant-expire = finir un accès
j-grant-expire = Un accès que vous aviez donné est arrivé à sa fin.
jw-document-upload = ajouter un papier
j-document-upload = { $you ->
    [yes] Vous avez ajouté { $paper }.
   *[other] { $who } a ajouté { $paper }.
}
jw-document-list = voir la liste de vos papiers
j-document-list = { $you ->
    [yes] Vous avez regardé la liste de vos papiers.
   *[other] { $who } a regardé la liste de vos papiers.
}
jw-document-read = regarder { $paper }
j-document-read = { $you ->
    [yes] Vous avez regardé { $paper }.
   *[other] { $who } a regardé { $paper }.
}
jw-document-download = télécharger { $paper }
j-document-download = { $you ->
    [yes] Vous avez téléchargé { $paper }.
   *[other] { $who } a téléchargé { $paper }.
}
jw-document-edit = changer { $paper }
j-document-edit = { $you ->
    [yes] Vous avez changé le nom ou la date de { $paper }.
   *[other] { $who } a changé le nom ou la date de { $paper }.
}
jw-document-privacy = changer qui peut voir { $paper }
j-document-privacy = { $you ->
    [yes] Vous avez changé qui peut voir { $paper }.
   *[other] { $who } a changé qui peut voir { $paper }.
}
jw-document-delete = supprimer { $paper }
j-document-delete = { $you ->
    [yes] Vous avez supprimé un papier.
   *[other] { $who } a supprimé un papier.
}
jw-share-create = faire un lien vers { $paper }
j-share-create = { $you ->
    [yes] Vous avez fait un lien vers { $paper }.
   *[other] { $who } a fait un lien vers { $paper }.
}
jw-share-manage = voir les liens de { $paper }
j-share-manage = { $who } a regardé les liens de { $paper }.
jw-share-revoke = arrêter un lien
j-share-revoke = { $you ->
    [yes] Vous avez arrêté un lien vers { $paper }.
   *[other] { $who } a arrêté un lien vers { $paper }.
}
jw-share-download = télécharger { $paper } par un lien
j-share-download = { $who } a téléchargé { $paper } grâce à un lien.
jw-journal-read = lire ce journal
j-journal-read = { $you ->
    [yes] Vous avez lu ce journal.
   *[other] { $who } a lu ce journal.
}
jw-vault-export = récupérer tous vos papiers
j-vault-export = { $you ->
    [yes] Vous avez récupéré tous vos papiers.
   *[other] { $who } a récupéré tous vos papiers.
}
jw-vault-erase = supprimer votre compte
j-vault-erase = Votre compte a été supprimé.
jw-vault-recover = vous donner un nouveau code
j-vault-recover = { $who } vous a donné un nouveau code.
jw-secret-change = changer votre code
j-secret-change = { $you ->
    [yes] Vous avez changé votre code.
   *[other] { $who } a changé votre code.
}
jw-vault-recover-start = commencer à vous donner un nouveau code
j-vault-recover-start = { $who } a commencé à vous donner un nouveau code.
jw-vault-recover-confirm = confirmer votre nouveau code
j-vault-recover-confirm = { $who } a confirmé votre nouveau code.
jw-trustee-add = choisir une structure de confiance
j-trustee-add = Vous avez choisi { $structure } comme structure de confiance.
jw-trustee-remove = retirer une structure de confiance
j-trustee-remove = { $you ->
    [yes] Vous avez retiré une structure de confiance.
   *[other] { $who } n'est plus votre structure de confiance.
}
jw-structure-leave = quitter votre coffre
j-structure-leave = { $who } a arrêté de vous accompagner.
jw-notice-acknowledge = lire un message
j-notice-acknowledge = Vous avez lu un message important.
jw-integrity-alarm = vérifier vos papiers
j-integrity-alarm = Coffre a trouvé un problème sur un papier et a prévenu le service.

## Mon compte
account-title = Mon compte
secret-heading = Changer mon code
secret-advice = Le plus sûr : une phrase de quatre ou cinq mots faciles, que vous retenez bien. Un code de 6 chiffres est plus facile à deviner.
secret-suggestion = Par exemple :
secret-current = Mon code actuel
secret-new = Mon nouveau code
secret-again = Mon nouveau code, encore une fois
secret-submit = Changer mon code
secret-changed = Votre code a changé. Vos autres connexions sont fermées.
secret-mismatch = Les deux nouveaux codes ne sont pas pareils. Écrivez deux fois le même.
secret-wrong-current = Ce n'est pas votre code actuel.
trustees-heading = Mes structures de confiance
trustees-explain = Si vous oubliez votre code, une structure de confiance peut vous en donner un nouveau : il faut deux personnes de cette structure, et vous êtes prévenu. Sans structure de confiance, un code oublié veut dire des papiers perdus.
trustees-none = Vous n'avez pas de structure de confiance. Vous pouvez en choisir une à son bureau.
trustee-remove-title = Retirer cette structure de confiance ?
trustee-remove-what = { $structure } ne pourra plus vous donner un nouveau code.
trustee-remove-consequence = Si vous oubliez votre code et que vous n'avez plus de structure de confiance, personne ne pourra vous rendre vos papiers.
trustee-remove-button = Retirer cette structure de confiance
export-heading = Tout récupérer
export-explain = Téléchargez tous vos papiers et ce journal dans un seul fichier (ZIP). Gardez-le en lieu sûr.
export-button = Tout récupérer
erase-heading = Supprimer mon compte
erase-explain = Vous pouvez supprimer votre compte et tous vos papiers.
erase-title = Supprimer mon compte
erase-what = Vous allez supprimer votre compte et tous vos papiers.
erase-consequence = Personne ne pourra plus les voir, ni vous, ni les structures, ni le service. On ne peut pas revenir en arrière.
erase-before = Avant, vous pouvez tout récupérer dans « Mon compte ».
erase-button = Oui, tout supprimer
confirm-secret = Écrivez votre code pour confirmer
erased-title = Compte supprimé
erased-text = Votre compte et vos papiers sont supprimés.

## Erreurs
err-request-id = Si vous en parlez à votre structure, donnez ce numéro :
err-next-login = Aller à la page de connexion
err-next-home = Aller à l'accueil
err-next-papers = Retour à mes papiers
err-login-title = Vous n'êtes pas connecté
err-login-text = Connectez-vous pour voir vos papiers.
err-pro-title = Cette page est pour les personnes
err-pro-text = Vous êtes connecté avec un compte de structure. Les pages pour les structures sont ailleurs.
err-404-title = Page introuvable
err-404-text = Cette page n'existe pas, ou ce papier a été supprimé.
err-csrf-title = La page a expiré
err-csrf-text = Pour votre sécurité, revenez à la page précédente, rechargez-la, puis recommencez.
err-429-title = Trop d'essais
err-429-text = Il y a eu trop d'essais en peu de temps. Attendez une minute, puis recommencez.
err-locked-title = Compte bloqué pour le moment
err-locked-text = { $n ->
    [one] Il y a eu trop d'erreurs de code. Réessayez dans 1 minute. Si vous avez oublié votre code, allez voir votre structure.
   *[other] Il y a eu trop d'erreurs de code. Réessayez dans { $n } minutes. Si vous avez oublié votre code, allez voir votre structure.
}
err-busy-title = Coffre est très occupé
err-busy-text = Beaucoup de personnes se connectent en ce moment. Attendez quelques secondes, puis recommencez.
err-invalid-title = Ce n'est pas possible
err-invalid-text = Ce qui a été envoyé ne peut pas être utilisé. Revenez en arrière et vérifiez.
err-form = Le formulaire est incomplet. Revenez en arrière et recommencez.
err-weak-secret = Ce code est trop facile à deviner. Choisissez une phrase de plusieurs mots, ou un code plus long.
err-conflict = Quelque chose a changé pendant ce temps. Recommencez.
err-large-title = Trop lourd
err-large-text = Ce papier est trop lourd pour Coffre.
err-quota-title = Coffre est plein
err-quota-text = Votre coffre est plein. Supprimez des papiers dont vous n'avez plus besoin.
err-gone-title = Ce n'est plus là
err-gone-text = Ce que vous cherchez n'existe plus.
err-500-title = Un problème chez nous
err-500-text = Coffre a eu un problème. Ce n'est pas de votre faute. Réessayez dans un moment.

## Ajouts récents (page d'accueil)
banner-added = { $n ->
    [one] Depuis votre dernière visite, { $structure } a ajouté « { $title } » dans votre coffre.
   *[other] Depuis votre dernière visite, des structures ont ajouté { $n } papiers dans votre coffre, dont « { $title } » par { $structure }.
}

## Montrer au guichet
counter-give-heading = Donner une copie à l'agent
counter-give-explain = { $n ->
    [one] L'agent pourra recevoir une copie une seule fois, pendant 1 minute, avec un code QR ou un code court. La copie porte la mention « Copie transmise ».
   *[other] L'agent pourra recevoir une copie une seule fois, pendant { $n } minutes, avec un code QR ou un code court. La copie porte la mention « Copie transmise ».
}
counter-for = À qui le montrez-vous ?
counter-for-hint = (par exemple : Préfecture du Rhône ; c'est écrit sur la copie)
counter-start = Donner un code à l'agent
counter-default-recipient = un guichet
counter-title = Montrer au guichet
counter-for-agent = Pour l'agent du guichet
counter-scan = Scannez ce code QR avec votre téléphone ou votre ordinateur :
counter-qr-alt = Code QR du lien vers la copie de ce papier
counter-or-type = Ou allez sur
counter-code-label = Code à taper
counter-until = Ce code marche jusqu'au
counter-once = Il ne sert qu'une fois.
counter-mark = La copie portera la mention « Copie transmise à { $recipient } ».
counter-stop = Arrêter de montrer
agent-title = Recevoir une copie
agent-explain = La personne vous montre un papier avec Coffre. Tapez le code affiché sur son écran pour recevoir une copie.
agent-code = Le code
agent-code-hint = (9 lettres et chiffres, par exemple ABC-DEF-GHJ)
agent-see = Voir la copie
agent-bad-code = Ce code ne marche pas : il est faux, il a déjà servi, ou il a expiré. Demandez à la personne un nouveau code.
agent-token-explain = La personne vous montre un papier avec Coffre. Vous pouvez en recevoir une copie, marquée « Copie transmise ».
paper-print = Imprimer un duplicata
link-for = À qui envoyez-vous ce lien ?
link-for-hint = (par exemple : CAF de Lyon ; c'est écrit sur la copie)
link-for-missing = Écrivez à qui vous envoyez ce lien : c'est écrit sur la copie.
j-share-create-counter = Vous avez montré { $paper } au guichet.
j-share-download-counter = L'agent du guichet a reçu une copie de { $paper }.
j-share-revoke-counter = Vous avez arrêté de montrer { $paper }.
jw-document-download-duplicate = imprimer un duplicata de { $paper }
j-document-download-duplicate = { $you ->
    [yes] Vous avez imprimé un duplicata de { $paper }.
   *[other] { $who } a imprimé un duplicata de { $paper }.
}
counter-line = « { $title } » est montré au guichet ({ $recipient }) : le code marche jusqu'au { $time }.
login-wrong-left = { $n ->
    [0] L'identifiant ou le code n'est pas bon. Le compte est maintenant bloqué un moment : réessayez plus tard, ou allez voir votre structure.
    [one] L'identifiant ou le code n'est pas bon. Il vous reste 1 essai avant que le compte soit bloqué un moment.
   *[other] L'identifiant ou le code n'est pas bon. Il vous reste { $n } essais avant que le compte soit bloqué un moment.
}
paper-page-alt = { $title }, page { $n } sur { $total }
agent-busy = Trop de codes ont été essayés sur Coffre en ce moment. Attendez une minute, puis tapez le code à nouveau. Le code QR, lui, marche toujours.
err-timeout-title = C'est trop long
err-timeout-text = Coffre n'a pas reçu toute la demande à temps (la connexion est peut-être lente). Réessayez, si possible avec un meilleur réseau.
copy-no-mark = Ce papier n'est ni une photo JPEG ni un PDF que Coffre sait lire (ou il est très lourd) : la copie partira telle quelle, sans la mention « Copie transmise ».
add-who-today = Aujourd'hui : { $list }.
add-who-none = Aujourd'hui, aucune structure n'a d'accès à vos papiers.
err-too-many = Vous avez atteint le maximum (papiers montrés en même temps, liens en cours, ou papiers dans votre coffre). Arrêtez un lien ou un code en cours, ou supprimez des papiers dont vous n'avez plus besoin, puis recommencez.
add-busy = Beaucoup de photos arrivent sur Coffre en ce moment. Attendez une minute, puis ajoutez votre papier à nouveau.

## Le bureau des structures (/pro)
pro-brand = espace structure
pro-nav-home = Tableau de bord
pro-next-home = Aller au tableau de bord
pro-back-home = Retour au tableau de bord
pro-login-title = Connexion des structures
pro-login-heading = Connexion des professionnels
pro-login-ended = Vous êtes déconnecté.
pro-login-login = Identifiant
pro-login-password = Mot de passe
pro-login-code = Code de l'application
pro-login-code-hint = les 6 chiffres que montre votre application d'authentification, ou un code de secours
pro-login-submit = Se connecter
pro-login-missing = Indiquez votre identifiant et votre mot de passe.
pro-login-wrong = Identifiant, mot de passe ou code incorrect. Le code change toutes les 30 secondes : tapez celui que l'application montre maintenant.
pro-login-activate = Première fois ? Activer mon compte avec le code d'invitation
pro-login-lost = Téléphone perdu et plus de code de secours ? Un administrateur de votre structure peut remettre à zéro votre second facteur.
pro-activate-title = Activer mon compte
pro-activate-heading = Activer mon compte professionnel
pro-activate-intro = Tapez le code d'invitation que votre administrateur vous a donné, puis choisissez votre mot de passe.
pro-activate-code = Code d'invitation
pro-activate-password = Mot de passe
pro-activate-password-hint = au moins 12 caractères
pro-activate-password2 = Le même mot de passe, encore une fois
pro-activate-submit = Activer mon compte
pro-activate-mismatch = Les deux mots de passe ne sont pas les mêmes.
pro-activate-bad-code = Ce code d'invitation ne marche pas : il est faux, déjà utilisé ou trop vieux. Demandez-en un nouveau à votre administrateur.
pro-activate-short = Ce mot de passe est trop court : il faut au moins 12 caractères.
pro-factor-title = Votre second facteur
pro-factor-app-heading = Votre application d'authentification
pro-factor-step-app = Ouvrez une application d'authentification sur votre téléphone professionnel (par exemple FreeOTP, Aegis ou Google Authenticator).
pro-factor-step-scan = Ajoutez un compte en scannant ce QR code, ou en tapant la clé ci-dessous.
pro-factor-qr-alt = QR code à scanner avec l'application d'authentification
pro-factor-key = Clé à taper si vous ne pouvez pas scanner :
pro-factor-codes-heading = Vos codes de secours
pro-factor-codes-intro = Chaque code marche une seule fois, à la place du code de l'application (si vous perdez votre téléphone). Imprimez-les ou notez-les, et rangez-les à part. Ils ne seront plus jamais montrés.
pro-factor-next = À chaque connexion, vous taperez votre mot de passe et le code que montre l'application.
pro-factor-login = Me connecter
pro-setup-title = Nouveau second facteur
pro-setup-heading = Installer votre nouveau second facteur
pro-setup-intro = Votre second facteur a été remis à zéro, ou votre compte n'en a pas encore. Avec le code d'installation qu'un administrateur de votre structure vous a donné en main propre, installez-le pour continuer.
pro-setup-step-code = Tapez le code à 6 chiffres que montre l'application.
pro-setup-submit = Valider
pro-setup-wrong = Ce code ne correspond pas. Vérifiez que vous avez scanné le QR code de cette page, puis tapez le code que montre l'application maintenant.
pro-home-title = Tableau de bord
pro-home-heading = Les personnes que vous accompagnez
pro-search-label = Chercher une personne par son nom
pro-search-submit = Chercher
pro-people-heading = Personnes
pro-people-count = { $n ->
    [0] Aucune personne trouvée.
    [one] 1 personne.
   *[other] { $n } personnes.
}
pro-more = { $n ->
    [one] Et 1 autre : précisez la recherche.
   *[other] Et { $n } autres : précisez la recherche.
}
pro-person-title = Fiche personne
pro-access-heading = Ce que votre structure peut faire
pro-access-caption = Ce que la personne a accepté, catégorie par catégorie.
pro-col-category = Catégorie
pro-col-access = Accès
pro-col-title = Papier
pro-col-added = Ajouté le
pro-col-validity = Valable jusqu'au
pro-access-both = Voir et ajouter, jusqu'au { $date }
pro-access-view = Voir, jusqu'au { $date }
pro-access-upload = Ajouter seulement, jusqu'au { $date }
pro-access-none = Pas d'accès
pro-papers-heading = Papiers que vous pouvez voir
pro-papers-no-view = La personne n'a permis de voir aucune catégorie de papiers.
pro-papers-none = Aucun papier dans les catégories que vous pouvez voir.
pro-papers-soon = { $n ->
    [one] 1 papier n'est plus valable, ou ne le sera plus dans 60 jours.
   *[other] { $n } papiers ne sont plus valables, ou ne le seront plus dans 60 jours.
}
pro-nav-structure = Ma structure
pro-structure-title = Ma structure
pro-saved = C'est enregistré.
pro-members-heading = Les membres
pro-col-login = Identifiant
pro-col-role = Rôle
pro-col-state = État
pro-col-factor = Second facteur
pro-col-actions = Actions
pro-role-admin = Administrateur
pro-role-agent = Agent
pro-member-active = Actif
pro-member-pending = Invitation pas encore utilisée
pro-member-gone = Désactivé
pro-factor-set = Installé
pro-factor-unset = À installer à la prochaine connexion
pro-factor-none = —
pro-deactivate-link = Désactiver
pro-reset-link = Remettre à zéro le second facteur
pro-invite-heading = Inviter un membre
pro-invite-login = Identifiant du nouveau membre
pro-invite-login-hint = par exemple prénom.nom ; il s'en servira pour se connecter
pro-invite-role = Rôle
pro-invite-submit = Créer l'invitation
pro-invite-bad-login = Cet identifiant ne peut pas être utilisé : 1 à 100 caractères, sans caractère spécial invisible.
pro-invite-taken = Cet identifiant est déjà pris. Choisissez-en un autre.
pro-contact-heading = Coordonnées de la structure
pro-contact-intro = Elles sont imprimées sur la carte d'accès des personnes et montrées sur leurs pages, pour qu'elles sachent où aller.
pro-contact-phone = Téléphone
pro-contact-address = Adresse
pro-contact-submit = Enregistrer
pro-contact-too-long = Le téléphone (40 caractères au plus) ou l'adresse (200 au plus) est trop long.
pro-invited-title = Invitation créée
pro-invited-heading = Invitation à remettre
pro-invited-for = Invitation de { $login } à rejoindre { $structure } dans Coffre.
pro-invited-step-open = Ouvrir { $address } (ou scanner le QR code).
pro-invited-step-code = Taper ce code d'invitation :
pro-invited-step-factor = Choisir un mot de passe, puis installer le second facteur sur son téléphone professionnel.
pro-invited-qr-alt = QR code de l'adresse { $address }
pro-invited-once = Ce code marche une seule fois, pendant 7 jours. Il n'est montré qu'ici : imprimez cette page ou recopiez le code, puis remettez-le en main propre.
pro-back-structure = Retour à Ma structure
pro-deactivate-title = Désactiver un membre
pro-deactivate-text = { $login } ne pourra plus se connecter, tout de suite. Ses liens de partage s'arrêtent, les invitations en attente sont annulées, et la clé de la structure est remplacée : ce qu'il aurait gardé n'ouvre plus rien de nouveau.
pro-deactivate-button = Désactiver
pro-reset-title = Remettre à zéro un second facteur
pro-reset-text = { $login } sera déconnecté. À sa prochaine connexion, avec son mot de passe, il installera un nouveau second facteur. Faites-le seulement quand { $login } est là ou au téléphone : celui qui connaît son mot de passe à ce moment installera le second facteur.
pro-reset-button = Remettre à zéro
pro-nav-enrol = Inscrire une personne
pro-enrol-title = Inscrire une personne
pro-enrol-heading = Inscrire une personne à l'accueil
pro-enrol-read-heading = À lire avec la personne, avant tout
pro-enrol-read-intro = Lisez ces phrases à voix haute, et répondez à ses questions. Rien n'est créé avant qu'elle ait dit oui.
pro-enrol-read-what = Coffre garde une copie de vos papiers, fermée à clé. Vous pourrez toujours les retrouver, même si vous perdez les originaux ou votre téléphone.
pro-enrol-read-who = Vous seul décidez qui voit vos papiers. { $structure } ne verra que ce que vous acceptez, et seulement pendant le temps que vous choisissez. Vous pouvez retirer cet accès quand vous voulez.
pro-enrol-read-back = Vous pouvez télécharger tous vos papiers d'un coup, à tout moment, sur votre page « Mon compte ».
pro-enrol-read-delete = Vous pouvez supprimer un papier, ou tout votre coffre, quand vous voulez. Ce qui est supprimé ne peut plus être lu par personne.
pro-enrol-read-terms = Coffre est gratuit pour vous. Vos papiers sont gardés en France, chiffrés ; personne chez Coffre ne peut les lire. Tout ce qui est fait avec vos papiers est écrit dans votre journal, que vous pouvez lire.
pro-enrol-form-heading = Ce que vous proposez
pro-enrol-name = Nom de la personne
pro-enrol-name-hint = comme elle veut qu'il soit écrit
pro-enrol-identifier = Début de son identifiant
pro-enrol-identifier-hint = son prénom ou un surnom, sans espace ; Coffre ajoutera des chiffres (par exemple marie-4821)
pro-enrol-categories = Les papiers que votre structure propose de voir
pro-enrol-categories-hint = Aucune case cochée : la personne ne donne aucun accès pour le moment.
pro-enrol-rights = Ce que votre structure pourra faire
pro-enrol-rights-both = Voir et ajouter ces papiers
pro-enrol-rights-upload = Ajouter seulement (sans voir)
pro-enrol-days = Pendant combien de temps
pro-days-31 = 31 jours
pro-days-182 = 6 mois
pro-days-365 = 1 an
pro-enrol-submit = Passer la main à la personne
pro-enrol-need-name = Indiquez le nom de la personne.
pro-enrol-bad-identifier = Le début de l'identifiant : des lettres et des chiffres, sans espace (un point ou un tiret au plus), 40 caractères au plus.
pro-handover-title = À vous
pro-handover-heading = { $name }, c'est à vous.
pro-handover-intro = Le professionnel vous a passé la main. Lisez, choisissez, puis appuyez sur « Rendre la main ».
pro-handover-consent = Ce que vous acceptez
pro-handover-consent-yes = Oui, j'accepte
pro-handover-consent-no = Non, pas maintenant
pro-handover-consent-hint = Vous pourrez retirer cet accès quand vous voulez, sur la page « Qui voit mes papiers ».
pro-consent-sentence = { $n ->
    [one] { $structure } pourra voir et ajouter vos papiers de ces catégories : { $categories }, pendant 1 jour, jusqu'au { $until }.
   *[other] { $structure } pourra voir et ajouter vos papiers de ces catégories : { $categories }, pendant { $n } jours, jusqu'au { $until }.
}
pro-consent-sentence-upload = { $n ->
    [one] { $structure } pourra ajouter des papiers dans ces catégories, sans voir vos papiers : { $categories }, pendant 1 jour, jusqu'au { $until }.
   *[other] { $structure } pourra ajouter des papiers dans ces catégories, sans voir vos papiers : { $categories }, pendant { $n } jours, jusqu'au { $until }.
}
pro-handover-trustee = { $structure } comme structure de confiance ?
pro-handover-trustee-what = Si vous oubliez votre code, { $structure } pourra vous rendre l'accès, avec vous à son accueil. Elle pourrait aussi, avec vous, ouvrir tout votre coffre.
pro-handover-trustee-yes = Oui, c'est ma structure de confiance
pro-handover-trustee-no = Non
pro-trustee-none-consequence = Sans structure de confiance, si vous oubliez votre code, personne ne pourra rouvrir vos papiers. Ils seront perdus.
pro-handover-secret = Votre code secret
pro-handover-secret-field = Votre code secret (une phrase ou un code)
pro-handover-secret-again = Le même, encore une fois
pro-handover-need-secret = Choisissez votre code secret.
pro-handover-submit = Rendre la main
pro-enrolled-title = Inscription faite
pro-enrolled-heading = C'est fait
pro-enrolled-intro = Le coffre de { $name } est prêt. Son identifiant :
pro-enrolled-print = Imprimez sa carte d'accès et son reçu (menu Imprimer du navigateur) et donnez-les-lui.
pro-enrolled-file = Voir sa fiche
pro-card-heading = Carte d'accès à Coffre
pro-card-site = Adresse :
pro-card-qr-alt = QR code de l'adresse { $site }
pro-card-identifier = Votre identifiant :
pro-card-no-secret = Votre code secret n'est pas écrit ici : vous seul le connaissez.
pro-card-help = Besoin d'aide :
pro-receipt-heading = Reçu de votre accord
pro-receipt-date = Le { $date }, { $name } a ouvert son coffre Coffre.
pro-receipt-no-consent = Vous n'avez donné aucun accès à vos papiers à { $structure }.
pro-receipt-trustee = { $structure } est votre structure de confiance : elle peut vous rendre l'accès si vous oubliez votre code, avec vous à son accueil.
pro-receipt-no-trustee = Vous n'avez pas de structure de confiance.
pro-receipt-withdraw = Pour retirer un accès : sur Coffre, page « Qui voit mes papiers », ou à l'accueil de la structure.
pro-scan-title = Numériser un papier
pro-scan-back = Retour à la fiche
pro-scan-categories-hint = Seulement les catégories où la personne permet à votre structure d'ajouter des papiers.
pro-scan-files = Les pages scannées
pro-scan-files-hint = une ou plusieurs images JPEG (elles feront un seul PDF, dans l'ordre), ou un PDF
pro-scan-camera = Ou prendre les pages en photo
pro-scan-submit = Ajouter au coffre de la personne
pro-scan-no-access = La personne ne permet pas à votre structure d'ajouter des papiers pour le moment.
pro-scan-link = Numériser un papier pour cette personne
pro-scan-done = Le papier a été ajouté à son coffre. Elle le verra à sa prochaine visite.
pro-link-title = Envoyer à un organisme
pro-link-paper = Le papier :
pro-link-explain = L'organisme reçoit un lien qui donne une copie, une seule fois. La copie porte la mention « Copie transmise à … » avec son nom et la date. La personne le voit dans son journal.
pro-link-for = Pour qui
pro-link-made-title = Lien prêt
pro-link-made-copy = Copiez ce lien dans votre message à
pro-link-made-once = Il donne une seule copie.
pro-col-do = Faire
pro-duplicate = Imprimer un duplicata
pro-send = Envoyer
pro-col-person = Personne
pro-col-until = Jusqu'au
pro-expiring-heading = Papiers bientôt plus valables (60 jours)
pro-expiring-none = Aucun papier, parmi ceux que vous pouvez voir, n'arrive à échéance dans les 60 jours.
pro-ending-heading = Accords qui se terminent dans les 60 jours
pro-ending-none = Aucun accord ne se termine dans les 60 jours.
pro-recent-heading = Ajouts de votre équipe (14 derniers jours)
pro-recent-none = Votre équipe n'a rien ajouté ces 14 derniers jours.
pro-nav-report = Rapport d'activité
pro-report-title = Rapport d'activité
pro-report-intro = Les chiffres de votre structure, mois par mois, sur les 12 derniers mois. Aucun nom, aucun identifiant, aucun titre de papier. Un chiffre plus petit que 5 est écrit « < 5 » et n'est pas dessiné, pour qu'on ne puisse reconnaître personne.
pro-report-csv = Télécharger le tableau (CSV)
pro-report-table = Les mêmes chiffres, mois par mois
pro-report-month = Mois
pro-report-enrolled = Personnes inscrites
pro-report-added = Papiers ajoutés
pro-report-duplicates = Duplicatas imprimés
pro-report-links = Liens ouverts
pro-report-given = Accords donnés
pro-report-withdrawn = Accords retirés
pro-more-title = Demander plus d'accès
pro-more-link = Demander plus d'accès
pro-more-intro = Choisissez ce que vous demandez. Ensuite, passez la main : la personne lira la demande et décidera, avec son code secret.
pro-more-none = Choisissez au moins une catégorie de papiers.
pro-more-sign = Pour accepter, tapez votre identifiant et votre code secret
pro-more-need-secret = Pour accepter, tapez votre identifiant et votre code secret. Pour refuser, choisissez « Non, pas maintenant ».
pro-more-wrong = Cet identifiant ou ce code secret n'est pas bon. Rien n'a été donné.
pro-more-not-them = Cet identifiant n'est pas celui de cette personne. Rien n'a été donné.
pro-more-accepted = La personne a accepté : votre structure a maintenant cet accès.
pro-more-refused = La personne n'a rien accepté. Rien n'a changé.
pro-setup-remise = Code d'installation
pro-setup-remise-hint = donné en main propre par un administrateur de votre structure, quand il a remis à zéro votre second facteur
pro-setup-bad-remise = Ce code d'installation n'est pas bon, ou il a plus de 3 jours. Demandez-en un nouveau à un administrateur de votre structure.
pro-failures = { $n ->
    [one] 1 tentative de connexion à votre compte a échoué depuis votre dernière connexion. Si ce n'était pas vous, changez votre mot de passe et prévenez votre administrateur.
   *[other] { $n } tentatives de connexion à votre compte ont échoué depuis votre dernière connexion. Si ce n'était pas vous, changez votre mot de passe et prévenez votre administrateur.
}
pro-reset-done-title = Code d'installation
pro-reset-done-text = Donnez ce code en main propre à { $login } (pas par courriel ni par message). À sa prochaine connexion, avec son mot de passe et ce code, il installera son nouveau second facteur. Le code marche une fois, pendant 3 jours, et n'est montré qu'ici.
pro-person-failures = { $n ->
    [one] Avant cette visite, 1 tentative de connexion au coffre de la personne a échoué. Dites-le-lui : si ce n'était pas elle, elle peut changer son code.
   *[other] Avant cette visite, { $n } tentatives de connexion au coffre de la personne ont échoué. Dites-le-lui : si ce n'était pas elle, elle peut changer son code.
}
pro-suggest = Proposez-moi une phrase facile
