"""Who may do what: roles and principals (:mod:`.roles`), API tokens (:mod:`.tokens`), what
each kind of verifier receives (:mod:`.entitlements`, R-VER-1..7) and the route table of the
web application (:mod:`.routes`, R-RA-2).

A low layer: it sits just above the store and imports nothing from the authority, the
verifier services or anything above them, so every layer can ask it. Rules that need a
registered verifier (a verifier token is bound to one, R-VER-1) are the verifier package's
and reach the tokens through a hook (``Tokens(verifier_binding=...)``).
"""
