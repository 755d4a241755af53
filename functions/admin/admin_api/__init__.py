"""The admin API built from models: request/response models per domain (``models``), thin routes per domain
(``routes``), the one mapping of validation failures to the contract's 400 (``errors``) and the checks every
body gets before any model sees it (``body``). Named ``admin_api`` so it clashes with nothing on sys.path."""
