"""The virtual My Number Card: the chip's applications (JPKI AP, card-face input-support
AP) as an APDU command engine over a card image, the cards' store and PIN counters, the
PC/SC bridge through vpcd, and the resident-side tools. See docs/card.md.

Import what you need from the submodules; nothing here pulls in pyscard (only
``myna.chip.resident`` and ``myna.chip.pcsc`` do, lazily)."""
