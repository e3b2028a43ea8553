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
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Switchyard admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Virtual keys and usage. Bearer token: SWITCHYARD_ADMIN_TOKEN (admin) or SWITCHYARD_VIEWER_TOKEN (viewer: reads only)."
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
                "delete": {"summary": "Revoke a key (by id or prefix); every server refuses it within seconds (admin)",
                    "responses": {"200": {"description": "Revoked", "content": {"application/json": {"schema": key}}}, "401": error, "403": error, "404": error}}
            },
            "/admin/usage": {
                "get": {
                    "summary": "Usage totals and rows (at most 1,000 in JSON; all in CSV)",
                    "parameters": [
                        {"name": "key_id", "in": "query", "schema": {"type": "string"}},
                        {"name": "tenant_id", "in": "query", "schema": {"type": "string"}},
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
                    "tpm": {"type": "integer", "minimum": 1}}},
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
                    "rpm": {"type": ["integer", "null"]}, "tpm": {"type": ["integer", "null"]}}},
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
