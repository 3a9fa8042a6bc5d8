"""The harness is a set of pytest plugins, one per concern (fixtures/); this file only lists them."""

pytest_plugins = [
    "fixtures.target",
    "fixtures.sut",
    "fixtures.identities",
    "fixtures.api",
    "fixtures.browser",
    "fixtures.appium",
    "fixtures.evidence",
    "fixtures.report",
    "fixtures.load",
]
