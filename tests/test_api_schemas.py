"""The three OpenAPI documents (mobile, staff, identity provider) are what a partner integrates from: valid OpenAPI,
every operation and schema described by hand, tagged, with examples that match their schemas, synthetic data only,
and the OAuth 2.0 authorization code flow with PKCE stated."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import jsonschema
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from openapi_spec_validator import validate
from pydantic import StringConstraints, TypeAdapter, ValidationError

from harness.masking import looks_like_personnummer
from harness.sut_process import SutProcess
from sut.config import Settings
from sut.idp import create_idp
from sut.mobile import create_mobile_api
from sut.runtime import build_context
from sut.staff import create_staff_api

DOCUMENTS = {"mobile": "/api/v1/openapi.json", "staff": "/staff/v1/openapi.json", "idp": "/idp/openapi.json"}
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
SECRET_KEYS = {"access_token", "refresh_token", "ticket"}
PNR = re.compile(r"(?<![0-9])(?:19|20)?(?P<date>[0-9]{6})[-+]?(?P<tail>[0-9]{4})(?![0-9])")


@pytest.fixture(scope="module")
def documents(sut: SutProcess) -> dict[str, dict[str, Any]]:
    with httpx.Client(base_url=sut.urls["base"], timeout=10) as client:
        out = {}
        for name, path in DOCUMENTS.items():
            response = client.get(path)
            assert response.status_code == 200, f"{path}: {response.status_code}"
            out[name] = response.json()
        return out


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def walk(node: Any, where: str = "#") -> Iterator[tuple[str, Any]]:
    yield where, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{where}/{i}")


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_document_is_valid_openapi(documents: dict[str, dict[str, Any]], name: str) -> None:
    document = documents[name]
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert len(document["info"]["description"]) > 200, "the document explains itself"


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_example_matches_its_schema(documents: dict[str, dict[str, Any]], name: str) -> None:
    document = documents[name]
    checked = 0
    for where, node in walk(document["components"]["schemas"], "#/components/schemas"):
        if isinstance(node, dict) and isinstance(node.get("examples"), list):
            for example in node["examples"]:
                # The whole document is the root, so '#/components/schemas/...' references resolve.
                root = {**node, "components": document["components"]}
                errors = [e.message for e in jsonschema.Draft202012Validator(root).iter_errors(example)]
                assert not errors, f"{name} {where}: example {example!r} does not match: {errors}"
                checked += 1
    for _label, operation in operations(document):
        for parameter in operation.get("parameters", []):
            for example in parameter["schema"].get("examples", []):
                jsonschema.validate(example, parameter["schema"])
                checked += 1
    assert checked >= len(document["components"]["schemas"]) - 2, f"{name}: only {checked} examples"


def has_example(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    schema = resolve(document, schema)
    variants = schema.get("oneOf") or schema.get("anyOf")
    if variants:
        return all(has_example(document, v) for v in variants)
    return bool(schema.get("examples"))


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_request_and_response_body_has_an_example(documents: dict[str, dict[str, Any]], name: str) -> None:
    document = documents[name]
    for label, operation in operations(document):
        bodies = [("request", c) for c in operation.get("requestBody", {}).get("content", {}).values()]
        bodies += [(status, c) for status, r in operation["responses"].items() for c in r.get("content", {}).values()]
        for what, content in bodies:
            if "schema" in content and content["schema"].get("type") != "string":  # the login page is HTML
                assert has_example(document, content["schema"]), f"{name} {label}: {what} body without example"


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_operation_schema_and_property_is_described(documents: dict[str, dict[str, Any]], name: str) -> None:
    document = documents[name]
    declared = {tag["name"]: tag.get("description", "") for tag in document.get("tags", [])}
    for label, operation in operations(document):
        assert operation.get("summary"), f"{name} {label}: no summary"
        assert len(operation.get("description", "")) >= 60, f"{name} {label}: no real description"
        assert operation.get("operationId"), f"{name} {label}: no operationId"
        assert operation.get("tags"), f"{name} {label}: no tag"
        for tag in operation["tags"]:
            assert declared.get(tag), f"{name} {label}: tag {tag!r} is not declared with a description"
        for parameter in operation.get("parameters", []):
            assert parameter.get("description"), f"{name} {label}: parameter {parameter['name']} undescribed"
        for status, response in operation["responses"].items():
            assert response.get("description"), f"{name} {label}: response {status} undescribed"
    for schema_name, schema in document["components"]["schemas"].items():
        assert schema.get("description"), f"{name}: schema {schema_name} has no description"
        assert not schema_name.startswith(("Body_", "HTTPValidationError")), f"{name}: generated schema {schema_name}"
        for prop, spec in schema.get("properties", {}).items():
            assert spec.get("description"), f"{name}: {schema_name}.{prop} has no description"


# Strings on which every published pattern must be judged alike by Python's re and the Rust engine.
PROBES = ["", "a", "Hej", " Hej ", "Hej\n", "\n", "\t", " ", "\u3000", "\u200b", "Ring \u0007oss", "\x1b[31m",
          "e\u202evil", "\u2028", "\ufdd0", "\U0001fffe", "Å", "A\u030a", "💉", "مرحبا", "19850314-9901",
          "198503149901", "850314-9901", "١٩٨٥٠٣١٤٩٩٠١", "１９８５０３１４９９０１", "3.2.0", "٣.٢", "1177-eservices",
          "regional:01:video", "regional:٠١:video", "0" * 64, "c0ffee00-install-01", "SE232100001-0001-P001",
          "3f2b6c1e-8d4a-4b7e-9c21-5a6f0e9d1b37", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"]


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_patterns_mean_the_same_in_python_and_rust(documents: dict[str, dict[str, Any]], name: str) -> None:
    # jsonschema_rs (which schemathesis validates with) refuses a pattern the Rust regex crate cannot compile and
    # then ignores the rule; pydantic-core compiles with the same crate. ECMA-262's '$' is Python's '\Z'.
    patterns = {node["pattern"] for _, node in walk(documents[name]) if isinstance(node, dict)
                and isinstance(node.get("pattern"), str)}
    assert patterns
    for pattern in patterns:
        rust = TypeAdapter(Annotated[str, StringConstraints(pattern=pattern)])
        python = re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern)
        for probe in PROBES:
            try:
                rust.validate_python(probe)
                rust_ok = True
            except ValidationError:
                rust_ok = False
            assert rust_ok == bool(python.search(probe)), f"{pattern[:60]}... disagrees on {probe!r}"


@pytest.fixture(scope="module")
def apps() -> Iterator[dict[str, FastAPI]]:
    with tempfile.TemporaryDirectory() as folder:
        ctx = build_context(Settings(), Path(folder))
        yield {"mobile": create_mobile_api(ctx), "staff": create_staff_api(ctx), "idp": create_idp(ctx)}
        ctx.engine.dispose()


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_summaries_are_written_not_generated(apps: dict[str, FastAPI], name: str) -> None:
    # FastAPI makes a summary from the function's name ('Sso Ticket') when none is given.
    routes = [r for r in apps[name].routes if isinstance(r, APIRoute) and r.include_in_schema]
    assert routes
    for route in routes:
        assert route.summary, f"{name} {route.path}: the summary would be generated from {route.name!r}"
        assert route.summary != route.name.replace("_", " ").title()


@pytest.mark.parametrize("name", ["mobile", "staff"])
def test_security_is_bearer_and_oauth2_with_pkce(documents: dict[str, dict[str, Any]], name: str) -> None:
    document = documents[name]
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    flow = schemes["oauth2"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == "/idp/authorize" and flow["tokenUrl"] == "/idp/token"
    assert "PKCE" in schemes["oauth2"]["description"] and "S256" in schemes["oauth2"]["description"]
    for label, operation in operations(document):
        assert {"bearer": []} in operation["security"], f"{name} {label}: no bearer security"


def test_idp_document_explains_the_login_flow(documents: dict[str, dict[str, Any]]) -> None:
    document = documents["idp"]
    assert {"/authorize", "/token", "/jwks.json", "/api/login", "/api/staff-login"} <= document["paths"].keys()
    description = document["info"]["description"]
    for step in ("code_verifier", "code_challenge", "S256", "authorization_code", "refresh_token", "rotation",
                 "se.1177.appen://auth/callback"):
        assert step in description, f"the flow does not mention {step}"
    token_form = document["components"]["schemas"]["TokenRequest"]
    assert {"grant_type", "code", "code_verifier", "redirect_uri", "refresh_token"} <= token_form["properties"].keys()


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_examples_hold_only_test_personnummer_and_masked_secrets(documents: dict[str, dict[str, Any]],
                                                                   name: str) -> None:
    for where, node in walk(documents[name]):
        if isinstance(node, str):
            for match in PNR.finditer(node):
                if looks_like_personnummer(match["date"], match["tail"]):
                    assert 980 <= int(match["tail"][:3]) <= 999, f"{where}: {match[0]} is not a test number"
        if isinstance(node, dict) and "/examples/" in where:
            # 'code' is also a region's code: an authorization code only in the IdP's code and token schemas.
            secrets = SECRET_KEYS | ({"code"} if re.search(r"/(CodeResponse|TokenRequest)/", where) else set())
            for key in secrets & node.keys():
                assert "[masked]" in node[key], f"{where}: {key} example is not masked"
