# Coffre — the pages' words in English. Proves the mechanism: a message
# missing here falls back to French.

skip-link = Skip to content
demo-banner = DEMONSTRATION — nothing here is real
nav-label = Menu
nav-papers = My papers
nav-access = Who sees my papers
nav-journal = What happened
nav-account = My account
logout = Log out
footer-accessibility = Accessibility: partially compliant
footer-help = Help
session-note = { $n ->
    [one] Without any action, you will be logged out in 1 minute.
   *[other] Without any action, you will be logged out in { $n } minutes.
}
session-ending = You will be logged out in one minute. Do you want to continue?
session-continue = Continue
form-error-summary = There is a problem
cancel = Cancel, go back
back-to-papers = Back to my papers
back-to = Back:
and = and
you = You
date = { $month } { $day }, { $year }
moment = { $month } { $day }, { $year } at { $hour }:{ $minute }
month-1 = January
month-2 = February
month-3 = March
month-4 = April
month-5 = May
month-6 = June
month-7 = July
month-8 = August
month-9 = September
month-10 = October
month-11 = November
month-12 = December
cat-identity = Identity
cat-residence = Residence permit
cat-family = Family
cat-social_benefits = Benefits
cat-health = Health
cat-housing = Housing
cat-employment = Work
cat-income_taxes = Taxes
cat-other = Other papers
papers-count = { $n ->
    [0] no paper
    [one] 1 paper
   *[other] { $n } papers
}
login-title = Log in
login-heading = Open my vault
login-ended = You are logged out. Your papers are safe.
login-identifier = Your identifier
login-identifier-hint = (it is on your Coffre card)
login-secret = Your secret phrase or code
login-secret-code = Your code (digits)
login-digits-instead = My code is made of digits
login-words-instead = My secret is made of words
login-device = Which device are you on?
login-device-mine = It is my phone
login-device-shared = It is a shared computer (day centre, library…)
login-device-hint = On a shared computer, you are logged out after 5 minutes without any action.
login-submit = Open my vault
login-forgot = I forgot my code
login-missing = Write your identifier and your secret.
home-title = My papers
home-heading = My papers
home-add = Add a paper
home-show = Show a paper
home-categories = My papers by kind
err-next-login = Go to the login page
err-next-papers = Back to my papers
err-404-title = Page not found
err-404-text = This page does not exist, or this paper was deleted.
a11y-title = Accessibility
login-wrong-left = { $n ->
    [0] The identifier or the code is wrong. The account is now locked for a while: try again later, or go to your structure.
    [one] The identifier or the code is wrong. You have 1 try left before the account is locked for a while.
   *[other] The identifier or the code is wrong. You have { $n } tries left before the account is locked for a while.
}
