"""Residents: J-LIS's copy of identity information (機構保存本人確認情報, R-RES-1), the
change events municipalities report (異動等情報), and the rules that turn them into
certificate revocations (R-REV-2, R-REV-3, R-REV-8)."""
