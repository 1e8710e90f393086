"""The registration-authority side of the CA: checks requests, decides, and records.

It joins the pure domain (myna.pki) with the store (myna.store) and the signer's key
backends. The web and CLI layers call only this package.
"""
