"""What reaches the function on AWS, and through which checks: the HTTP API's routes and authorizer."""

from __future__ import annotations

from tests.template.deployed import Deployed

SIGNED_IN = {"JwtIssuer": "https://login.example.com", "JwtAudience": "web-app"}


def session_token_routes(deployed: Deployed) -> dict[str, dict]:
    return deployed.properties("HttpApi")["Body"]["paths"]["/session-token"]


def test_the_authorizer_guards_post_alone_so_that_preflights_reach_the_function():
    routes = session_token_routes(Deployed(SIGNED_IN))

    assert routes["post"]["security"] == [{"CallerJwt": []}]
    assert "security" not in routes["x-amazon-apigateway-any-method"]


def test_the_authorizer_checks_the_issuer_and_audience_of_the_authorization_header():
    components = Deployed(SIGNED_IN).properties("HttpApi")["Body"]["components"]

    authorizer = components["securitySchemes"]["CallerJwt"]["x-amazon-apigateway-authorizer"]
    assert authorizer == {
        "type": "jwt",
        "identitySource": "$request.header.Authorization",
        "jwtConfiguration": {"issuer": "https://login.example.com", "audience": ["web-app"]},
    }


def test_without_an_issuer_no_route_has_an_authorizer():
    routes = session_token_routes(Deployed())

    assert all("security" not in route for route in routes.values())


def test_the_function_refuses_a_post_without_claims_exactly_when_the_authorizer_is_on():
    def caller_jwt_required(parameters: dict[str, str]) -> str:
        return Deployed(parameters).properties("TokenVendorFunction")["Environment"]["Variables"][
            "CALLER_JWT_REQUIRED"
        ]

    assert (caller_jwt_required(SIGNED_IN), caller_jwt_required({})) == ("true", "false")
