"""Card management (カード管理システム, SPEC §6): number notices and application forms,
applications and their defect checks, production, shipping, handover, the card's
status (suspension, loss, reissue, return, abolition), expiry and renewal, fees, and
the lead-time clock that runs from receipt to shipment."""
