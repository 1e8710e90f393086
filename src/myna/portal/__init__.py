"""The resident portal: residents sign in with their card's user-authentication key
(JPKI's own login method) and see what the platform holds about them."""
