"""Bàn làm việc một cửa: a small provincial one-stop system, the reference integration.

It is what a province builds, in a few hundred readable lines: it talks to the national
platforms only through the gateway (LGSP/NGSP), exactly as it would in production:

- receives the dossiers citizens file on Cổng DVCQG by polling (``LayHoSoTuCongDVCQG``, then
  ``XacNhanHoSoTuCongDVCQG``) — no inbound connection needed;
- verifies the applicant in the national population database (VNeID, ``population:verify``);
- moves each dossier through the status machine with ``CapNhatTienDoHoSoMC``;
- asks for the fee through PayGov (``INIT``, checksum ``MaXacThuc``);
- keeps its own record of every call that failed, with the platform's code and message.

``platforms.py`` is the part to copy; ``app.py`` and the templates are the officer's screens.
"""
