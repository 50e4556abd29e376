"""Vietnamese domain rules every service shares, kept in one place.

- :mod:`vnsandbox.vn.cccd`: the personal identification number (CCCD) and province codes;
- :mod:`vnsandbox.vn.catalogue`: the procedure catalogue (danh mục TTHC) and its fee schedule;
- :mod:`vnsandbox.vn.banks`: bank and channel codes for payment pages;
- :mod:`vnsandbox.vn.money`: amounts of VND in Vietnamese words;
- :mod:`vnsandbox.vn.names`: Vietnamese names by sex, family names at their real frequencies;
- :mod:`vnsandbox.vn.wiretime`: the ``yyyyMMddHHmmss`` wire times in Vietnam time.

Reference data lives in ``data/`` beside these modules (copied from the shared data set with
its sources). Nothing here imports a service, the gateway or a web framework.
"""
