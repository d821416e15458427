#!/usr/bin/env python3
"""Writes catalog/providers.json, the pinned GET /v1/providers response.

No live response could be captured (the API is unreachable from the build machines), so this file
is hand-modelled on ../shared/passage-api.md: every integration and operation the docs name, with
schemas written the way Passage's TypeScript (zod) backend emits them, in both draft-07 and draft
2020-12 dialects. Re-run it after editing; `cargo xtask regen` then regenerates `generated/`.
"""
import json, pathlib

D7 = "http://json-schema.org/draft-07/schema#"
D2020 = "https://json-schema.org/draft/2020-12/schema"
MAX_SAFE = 9007199254740991

def obj(props, required=None, closed=True, **extra):
    s = {"type": "object", "properties": props,
         "required": list(props) if required is None else required}
    if closed:
        s["additionalProperties"] = False
    s.update(extra)
    return s

def mmddyyyy(desc):
    return {"type": "string", "pattern": "^\\d{2}/\\d{2}/\\d{4}$", "description": desc}

# --- mobileBillingStatement/read -------------------------------------------------------------
billing_args = {"$schema": D7, **obj({
    "limit": {"type": "integer", "exclusiveMinimum": 0, "maximum": MAX_SAFE,
              "description": "How many statements to read, newest first."}}, required=[])}

statement = obj({
    "statementId": {"type": "string"},
    "periodStart": mmddyyyy("First day of the billing period (MM/DD/YYYY)."),
    "periodEnd": mmddyyyy("Last day of the billing period (MM/DD/YYYY)."),
    "dueDate": mmddyyyy("Payment due date (MM/DD/YYYY)."),
    "amountDue": {"type": "number", "description": "Amount due, in `currency`."},
    "currency": {"type": "string", "description": "ISO 4217 code, e.g. USD."},
}, required=["periodStart", "amountDue", "currency"])

# tmobile and att publish this exact schema: codegen must emit one type for both.
billing_result_shared = {"$schema": D7, "title": "MobileBillingStatements", **obj({
    "billing": {"type": "array", "items": statement, "description": "Statements, newest first."}})}

# verizon differs for the same resource: 2020-12 dialect, nullable via type arrays, line items as
# prefixItems tuples, a status enum and a $defs reference.
verizon_statement = dict(statement)
verizon_statement = obj({
    **statement["properties"],
    "status": {"$ref": "#/$defs/StatementStatus"},
    "autopay": {"type": ["boolean", "null"], "description": "Whether autopay is on; null when unknown."},
    "lineItems": {"type": "array", "description": "Charges as [label, amount] pairs.",
                  "items": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}],
                            "minItems": 2, "maxItems": 2, "items": False}},
    "pdfUrl": {"type": ["string", "null"], "format": "uri"},
}, required=["periodStart", "amountDue", "currency"])
billing_result_verizon = {"$schema": D2020, "title": "VerizonBillingStatements", **obj({
    "billing": {"type": "array", "items": verizon_statement},
    "accountNumber": {"type": "string", "pattern": "^[0-9]{4,12}$"},
}, required=["billing"]), "$defs": {
    "StatementStatus": {"type": "string", "enum": ["open", "paid", "overdue"],
                        "description": "Payment state of the statement."}}}

# --- paymentMethod/read ----------------------------------------------------------------------
payment_method = obj({
    "order": {"type": "integer", "minimum": -MAX_SAFE, "maximum": MAX_SAFE,
              "description": "Position in the account's list."},
    "vendorId": {"type": "string", "description": "The provider's own id for the method."},
    "last4": {"type": "string", "pattern": "^[0-9]{4}$"},
    "type": {"type": "string", "enum": ["credit_card", "debit_card", "bank_account", "other"]},
    "isDefault": {"type": "boolean"},
    "brand": {"type": "string"},
    "expirationDate": {"type": "string", "description": "MM/YY"},
    "nickname": {"type": "string"},
    "billingZip": {"type": "string"},
    "billingAddress": {"type": "object", "additionalProperties": {},
                       "description": "Address as the provider shows it."},
    "raw": {"description": "The provider's record, unparsed."},
}, required=["order", "vendorId", "last4", "type", "isDefault", "raw"])
payment_read_result = {"$schema": D7, "title": "PaymentMethods",
                       **obj({"paymentMethods": {"type": "array", "items": payment_method}})}

# --- paymentMethod/write ---------------------------------------------------------------------
address = obj({
    "line1": {"type": "string", "minLength": 1},
    "line2": {"type": "string"},
    "city": {"type": "string"},
    "state": {"type": "string"},
    "country": {"type": "string", "default": "US"},
}, required=["line1", "city", "state"])
payment_write_args = {"$schema": D7, "title": "PaymentMethodWrite", **obj({
    "cardNumber": {"type": "string", "pattern": "^[0-9]{12,19}$", "description": "Card number, digits only."},
    "expirationDate": {"type": "string", "pattern": "^(0[1-9]|1[0-2])/[0-9]{2}$", "description": "MM/YY"},
    "cvv": {"type": "string", "pattern": "^[0-9]{3,4}$"},
    "nameOnCard": {"type": "string", "minLength": 1},
    "billingZip": {"type": "string", "pattern": "^[0-9]{5}(-[0-9]{4})?$"},
    "billingAddress": address,
    "dryRun": {"type": "boolean", "default": False,
               "description": "Validate the card on the provider's form without saving it."},
}, required=["cardNumber", "expirationDate", "cvv", "nameOnCard", "billingZip"])}
card_last4 = {"type": "string", "pattern": "^[0-9]{4}$"}
payment_write_result = {"$schema": D7, "title": "PaymentMethodWriteResult", "anyOf": [
    obj({"dryRun": {"type": "boolean", "const": True},
         "card": obj({"last4": card_last4, "nickname": {"type": "string"}}, required=["last4"])}),
    obj({"success": {"type": "boolean", "const": True},
         "card": obj({"last4": card_last4})}),
]}

# --- orderHistory/read -----------------------------------------------------------------------
order_args = {"$schema": D7, **obj({"limit": {"type": "number", "exclusiveMinimum": 0}}, required=[])}
ubereats_orders = {"$schema": D7, "title": "UberEatsOrderHistory", **obj({
    "orderCount": {"type": "number"},
    "orders": {"description": "Provider-specific order records."},
})}

# doordash differs for the same resource: 2020-12, a oneOf discriminated by a const `kind`,
# a record of fees, recursion through $defs, formats with patterns, nullable via anyOf.
doordash_orders = {"$schema": D2020, "title": "DoorDashOrderHistory", **obj({
    "orderCount": {"type": "integer", "minimum": 0, "maximum": MAX_SAFE},
    "orders": {"type": "array", "items": {"$ref": "#/$defs/Order"}},
}), "$defs": {
    "Order": obj({
        "id": {"type": "string", "format": "uuid",
               "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"},
        "placedAt": {"type": "string", "format": "date-time",
                     "pattern": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$"},
        "store": {"type": "string"},
        "total": {"type": "number", "minimum": 0},
        "fees": {"type": "object", "additionalProperties": {"type": "number"},
                 "description": "Fees by name (service, delivery, ...)."},
        "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
        "courierNote": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "fulfillment": {"oneOf": [
            obj({"kind": {"type": "string", "const": "delivery"},
                 "address": {"type": "string"},
                 "deliveredAt": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}}),
            obj({"kind": {"type": "string", "const": "pickup"},
                 "readyAt": {"type": "string", "format": "date-time"}}),
        ]},
    }, required=["id", "placedAt", "store", "total", "items", "fulfillment"]),
    "Item": obj({
        "name": {"type": "string"},
        "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_SAFE, "default": 1},
        "price": {"type": "number"},
        "modifiers": {"type": "array", "items": {"$ref": "#/$defs/Item"},
                      "description": "Options chosen for this item; themselves items."},
    }, required=["name", "price"]),
}}

# --- readHistory/read ------------------------------------------------------------------------
history_args = {"$schema": D7, **obj({"limit": {"type": "number"}}, required=[])}
history_result = {"$schema": D7, "title": "ReadHistory", **obj({
    "history": {"type": "array", "items": obj({
        "id": {"type": "string"},
        "title": {"type": "string"},
        "source": {"type": "string"},
        "duration": {"type": "number", "description": "Seconds."},
        "readAt": {"type": "string", "format": "date-time",
                   "pattern": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$"},
        "reviewer": {"type": "object", "properties": {
            "email": {"type": "string", "format": "email"},
            "role": {"type": "string", "const": "reviewer"},
        }, "required": ["email"], "additionalProperties": False},
    }, required=["id", "title", "source", "duration", "readAt"])}})}

def carrier(cid, name, billing):
    return {"id": cid, "name": name, "resources": [
        {"name": "mobileBillingStatement", "operations": {
            "read": {"description": "Read the account's billing statements.",
                     "arguments": billing_args, "result": billing}}},
        {"name": "paymentMethod", "operations": {
            "read": {"description": "Read the payment methods saved on the account.",
                     "arguments": None, "result": payment_read_result},
            "write": {"description": "Add a card to the account.",
                      "arguments": payment_write_args, "result": payment_write_result}}},
    ]}

catalog = {"providers": [
    carrier("tmobile", "T-Mobile", billing_result_shared),
    carrier("att", "AT&T", billing_result_shared),
    carrier("verizon", "Verizon", billing_result_verizon),
    {"id": "ubereats", "name": "Uber Eats", "resources": [
        {"name": "orderHistory", "operations": {"read": {
            "description": "Read past orders.", "arguments": order_args, "result": ubereats_orders}}}]},
    {"id": "doordash", "name": "DoorDash", "resources": [
        {"name": "orderHistory", "operations": {"read": {
            "description": "Read past orders.", "arguments": order_args, "result": doordash_orders}}}]},
    {"id": "apple-review", "name": "Apple Review", "resources": [
        {"name": "readHistory", "operations": {"read": {
            "description": "Read the reviewer's reading history.", "arguments": history_args,
            "result": history_result}}}]},
]}

out = pathlib.Path(__file__).resolve().parent.parent / "providers.json"
# Sorted keys, two-space indent: the canonical form `cargo xtask regen` writes when it fetches
# the live catalog, so a fetched catalog equal to this one leaves the file byte-identical.
out.write_text(json.dumps(catalog, indent=2, sort_keys=True) + "\n")
print(f"wrote {out}")
