"""The validity services (有効性確認): OCSP responders and CRL distribution, run per centre.

A centre keeps its own copy of certificate status (myna.store.replica), fed from the
platform's status feed, and answers from pre-signed responses. See docs/validity.md.
"""
