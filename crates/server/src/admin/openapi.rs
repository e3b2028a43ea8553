//! `GET /admin/openapi.json`: the admin API described in OpenAPI 3.1.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

pub async fn document() -> Response {
    Json(spec()).into_response()
}

fn spec() -> Value {
    let error = json!({"$ref": "#/components/responses/Error"});
    let key = json!({"$ref": "#/components/schemas/Key"});
    let tenant = json!({"$ref": "#/components/schemas/Tenant"});
    let token = json!({"$ref": "#/components/schemas/Token"});
    let id = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Switchyard admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Tenants (organisations and their teams), virtual keys, tenant admin tokens and usage. Bearer token: SWITCHYARD_ADMIN_TOKEN (role admin: everything), SWITCHYARD_VIEWER_TOKEN (role viewer: reads only), or a sya_ token made for one tenant (role tenant-admin: that tenant's teams, keys and usage; anything else answers 404). PATCH bodies set the fields present; null clears a field."
        },
        "security": [{"bearer": []}],
        "paths": {
            "/admin/keys": {
                "get": {
                    "summary": "List keys (never their secrets)",
                    "responses": {
                        "200": {"description": "Every key, newest first", "content": {"application/json": {"schema": {
                            "type": "object", "properties": {"data": {"type": "array", "items": key}}}}}},
                        "401": error, "503": error
                    }
                },
                "post": {
                    "summary": "Create a key; the answer holds its secret, shown only this once (admin)",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewKey"}}}},
                    "responses": {
                        "201": {"description": "Created", "content": {"application/json": {"schema": {
                            "allOf": [key, {"type": "object", "properties": {"key": {"type": "string", "description": "The secret"}}, "required": ["key"]}]}}}},
                        "400": error, "401": error, "403": error, "503": error
                    }
                }
            },
            "/admin/keys/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "get": {"summary": "One key", "responses": {"200": {"description": "The key", "content": {"application/json": {"schema": key}}}, "401": error, "404": error}},
                "patch": {"summary": "Change a key's name, models, metadata, expiry, tenant or limits",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/KeyPatch"}}}},
                    "responses": {"200": {"description": "Changed", "content": {"application/json": {"schema": key}}}, "400": error, "401": error, "403": error, "404": error, "409": error}},
                "delete": {"summary": "Revoke a key (by id or prefix); every server refuses it within seconds",
                    "responses": {"200": {"description": "Revoked", "content": {"application/json": {"schema": key}}}, "401": error, "403": error, "404": error}}
            },
            "/admin/tenants": {
                "get": {"summary": "List tenants (a tenant admin: its own and its teams)",
                    "responses": {"200": {"description": "Tenants, oldest first", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"data": {"type": "array", "items": tenant}}}}}}, "401": error, "503": error}},
                "post": {"summary": "Create an organisation, or a team (parent_id: its organisation)",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewTenant"}}}},
                    "responses": {"201": {"description": "Created", "content": {"application/json": {"schema": tenant}}}, "400": error, "401": error, "403": error, "503": error}}
            },
            "/admin/tenants/{id}": {
                "parameters": id,
                "get": {"summary": "One tenant, with what it and its teams spent in its budget period",
                    "responses": {"200": {"description": "The tenant", "content": {"application/json": {"schema": tenant}}}, "401": error, "404": error}},
                "patch": {"summary": "Change a tenant's name, metadata or limits (a tenant admin: its teams only)",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TenantPatch"}}}},
                    "responses": {"200": {"description": "Changed", "content": {"application/json": {"schema": tenant}}}, "400": error, "401": error, "403": error, "404": error}},
                "delete": {"summary": "Disable a tenant: its keys and its teams' keys stop working on every server within seconds",
                    "responses": {"200": {"description": "Disabled", "content": {"application/json": {"schema": tenant}}}, "401": error, "403": error, "404": error}}
            },
            "/admin/tenants/{id}/tokens": {
                "parameters": id,
                "get": {"summary": "The tenant's admin tokens (admin, viewer)",
                    "responses": {"200": {"description": "Tokens", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"data": {"type": "array", "items": token}}}}}}, "401": error, "403": error}},
                "post": {"summary": "Make a tenant-admin token for the tenant; the answer holds it, shown only this once (admin)",
                    "requestBody": {"content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {"name": {"type": "string"}}}}}},
                    "responses": {"201": {"description": "Created", "content": {"application/json": {"schema": {
                        "allOf": [token, {"type": "object", "properties": {"token": {"type": "string"}}, "required": ["token"]}]}}}},
                        "400": error, "401": error, "403": error, "404": error}}
            },
            "/admin/tokens/{id}": {
                "parameters": id,
                "delete": {"summary": "Revoke a tenant admin token (admin)",
                    "responses": {"200": {"description": "Revoked"}, "401": error, "403": error, "404": error}}
            },
            "/admin/usage": {
                "get": {
                    "summary": "Usage totals and rows (at most 1,000 in JSON; all in CSV)",
                    "parameters": [
                        {"name": "key_id", "in": "query", "schema": {"type": "string"}},
                        {"name": "tenant_id", "in": "query", "description": "A tenant; an organisation's usage includes its teams'", "schema": {"type": "string"}},
                        {"name": "model", "in": "query", "schema": {"type": "string"}},
                        {"name": "from", "in": "query", "description": "Unix ms, inclusive", "schema": {"type": "integer"}},
                        {"name": "to", "in": "query", "description": "Unix ms, exclusive", "schema": {"type": "integer"}},
                        {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"]}}
                    ],
                    "responses": {
                        "200": {"description": "Totals and rows", "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Usage"}},
                            "text/csv": {"schema": {"type": "string"}}}},
                        "400": error, "401": error
                    }
                }
            },
            "/admin/openapi.json": {"get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OpenAPI 3.1"}}}}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {"description": "An error", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"error": {"type": "object", "properties": {
                    "type": {"type": "string"}, "message": {"type": "string"}}}}}}}}},
            "schemas": {
                "NewKey": {"type": "object", "additionalProperties": false, "required": ["name"], "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 200},
                    "models": {"type": "array", "items": {"type": "string"}, "description": "Allowed model names; empty: all"},
                    "expires_in_days": {"type": "number", "exclusiveMinimum": 0, "maximum": 36500},
                    "metadata": {"type": "object"},
                    "budget_usd": {"type": "number", "minimum": 0},
                    "budget_period": {"type": "string", "enum": ["daily", "monthly", "total"], "default": "monthly"},
                    "rpm": {"type": "integer", "minimum": 1},
                    "tpm": {"type": "integer", "minimum": 1},
                    "tenant_id": {"type": "string", "description": "The team or organisation the key belongs to (a tenant admin's own by default)"},
                    "model_limits": {"$ref": "#/components/schemas/ModelLimits"}}},
                "KeyPatch": {"type": "object", "additionalProperties": false, "properties": {
                    "name": {"type": "string"},
                    "models": {"type": "array", "items": {"type": "string"}},
                    "expires_in_days": {"type": ["number", "null"]},
                    "metadata": {"type": ["object", "null"]},
                    "budget_usd": {"type": ["number", "null"]},
                    "budget_period": {"type": "string", "enum": ["daily", "monthly", "total"]},
                    "rpm": {"type": ["integer", "null"], "minimum": 1},
                    "tpm": {"type": ["integer", "null"], "minimum": 1},
                    "tenant_id": {"type": ["string", "null"]},
                    "model_limits": {"anyOf": [{"$ref": "#/components/schemas/ModelLimits"}, {"type": "null"}]}}},
                "ModelLimits": {"type": "object", "description": "Per model name: requests and tokens per minute",
                    "additionalProperties": {"type": "object", "additionalProperties": false, "properties": {
                        "rpm": {"type": "integer", "minimum": 1}, "tpm": {"type": "integer", "minimum": 1}}}},
                "NewTenant": {"type": "object", "additionalProperties": false, "required": ["name"], "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 200},
                    "parent_id": {"type": "string", "description": "For a team: its organisation"},
                    "metadata": {"type": "object"},
                    "budget_usd": {"type": "number", "minimum": 0},
                    "budget_period": {"type": "string", "enum": ["daily", "monthly", "total"], "default": "monthly"},
                    "rpm": {"type": "integer", "minimum": 1},
                    "tpm": {"type": "integer", "minimum": 1},
                    "model_limits": {"$ref": "#/components/schemas/ModelLimits"}}},
                "TenantPatch": {"type": "object", "additionalProperties": false, "properties": {
                    "name": {"type": "string"},
                    "metadata": {"type": ["object", "null"]},
                    "budget_usd": {"type": ["number", "null"]},
                    "budget_period": {"type": "string", "enum": ["daily", "monthly", "total"]},
                    "rpm": {"type": ["integer", "null"], "minimum": 1},
                    "tpm": {"type": ["integer", "null"], "minimum": 1},
                    "model_limits": {"anyOf": [{"$ref": "#/components/schemas/ModelLimits"}, {"type": "null"}]}}},
                "Tenant": {"type": "object", "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"},
                    "kind": {"type": "string", "enum": ["organisation", "team"]},
                    "parent_id": {"type": ["string", "null"]},
                    "status": {"type": "string", "enum": ["active", "disabled"]},
                    "created_at_ms": {"type": "integer"}, "disabled_at_ms": {"type": ["integer", "null"]},
                    "budget_usd": {"type": ["string", "null"]}, "budget_period": {"type": ["string", "null"]},
                    "rpm": {"type": ["integer", "null"]}, "tpm": {"type": ["integer", "null"]},
                    "model_limits": {"type": ["object", "null"]}, "metadata": {"type": ["object", "null"]},
                    "spend": {"type": "object", "description": "GET one: the period's spend of the tenant and its teams",
                        "properties": {"period": {"type": "string"}, "cost_usd": {"type": "string"}, "requests": {"type": "integer"}}}}},
                "Token": {"type": "object", "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"}, "prefix": {"type": "string"},
                    "tenant_id": {"type": "string"}, "role": {"type": "string", "enum": ["tenant-admin"]},
                    "status": {"type": "string", "enum": ["active", "revoked"]},
                    "created_at_ms": {"type": "integer"}, "revoked_at_ms": {"type": ["integer", "null"]}}},
                "Key": {"type": "object", "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"},
                    "prefix": {"type": "string", "description": "The secret's first 12 characters"},
                    "status": {"type": "string", "enum": ["active", "revoked", "expired"]},
                    "tenant_id": {"type": ["string", "null"]},
                    "created_at_ms": {"type": "integer"}, "expires_at_ms": {"type": ["integer", "null"]},
                    "revoked_at_ms": {"type": ["integer", "null"]},
                    "models": {"type": "array", "items": {"type": "string"}},
                    "metadata": {"type": ["object", "null"]},
                    "budget_usd": {"type": ["string", "null"], "description": "Exact decimal dollars"},
                    "budget_period": {"type": ["string", "null"]},
                    "rpm": {"type": ["integer", "null"]}, "tpm": {"type": ["integer", "null"]},
                    "model_limits": {"type": ["object", "null"]}}},
                "Usage": {"type": "object", "properties": {
                    "totals": {"type": "object", "properties": {
                        "requests": {"type": "integer"}, "input_tokens": {"type": "integer"},
                        "output_tokens": {"type": "integer"}, "cached_tokens": {"type": "integer"},
                        "cost_usd": {"type": "string"}}},
                    "rows": {"type": "array", "items": {"type": "object"}},
                    "truncated": {"type": "boolean"}}}
            }
        }
    })
}
