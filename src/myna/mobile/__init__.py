"""Smartphone certificates (移動端末設備用電子証明書, R-CERT-5, R-REV-6)."""
