/*
 * Gemini's Schema as JSON Schema: the OpenAPI 3.0 subset a client writes in
 * functionDeclarations[].parameters and generationConfig.responseSchema
 * (upper-case types, nullable, format "enum", integers as strings), for the
 * families that read JSON Schema only. parametersJsonSchema and
 * responseJsonSchema are JSON Schema already and never come here.
 */
#include <stdio.h>
#include <string.h>

#include "family.h"

/* The Schema fields, each under its JSON Schema name; protobuf JSON takes either spelling. */
enum field { F_TYPE = 0, F_NULLABLE, F_FORMAT, F_ENUM, F_PROPERTIES, F_ITEMS, F_ANY_OF,
	     F_REQUIRED, F_ORDERING, F_EXAMPLE, F_DEFAULT, F_TITLE, F_DESCRIPTION, F_PATTERN,
	     F_MIN_ITEMS, F_MAX_ITEMS, F_MIN_LENGTH, F_MAX_LENGTH, F_MIN_PROPERTIES,
	     F_MAX_PROPERTIES, F_MINIMUM, F_MAXIMUM, F_COUNT };

static const struct {
	const char *camel, *snake;
} fields[F_COUNT] = {
	[F_TYPE] = { "type", NULL }, [F_NULLABLE] = { "nullable", NULL },
	[F_FORMAT] = { "format", NULL }, [F_ENUM] = { "enum", NULL },
	[F_PROPERTIES] = { "properties", NULL }, [F_ITEMS] = { "items", NULL },
	[F_ANY_OF] = { "anyOf", "any_of" }, [F_REQUIRED] = { "required", NULL },
	[F_ORDERING] = { "propertyOrdering", "property_ordering" },
	[F_EXAMPLE] = { "example", NULL }, [F_DEFAULT] = { "default", NULL },
	[F_TITLE] = { "title", NULL }, [F_DESCRIPTION] = { "description", NULL },
	[F_PATTERN] = { "pattern", NULL },
	[F_MIN_ITEMS] = { "minItems", "min_items" }, [F_MAX_ITEMS] = { "maxItems", "max_items" },
	[F_MIN_LENGTH] = { "minLength", "min_length" },
	[F_MAX_LENGTH] = { "maxLength", "max_length" },
	[F_MIN_PROPERTIES] = { "minProperties", "min_properties" },
	[F_MAX_PROPERTIES] = { "maxProperties", "max_properties" },
	[F_MINIMUM] = { "minimum", NULL }, [F_MAXIMUM] = { "maximum", NULL },
};

/* Formats that only say how Gemini stores a number, or that enum lists the values. */
static const char *const gemini_formats[] = { "enum", "int32", "int64", "float", "double", NULL };

static int convert(struct ir_ctx *c, int t, struct tg_buf *b, const char *where, int depth);

/* Value token v's JSON text as it came. */
static void
raw_value(struct ir_ctx *c, int v, struct tg_buf *b)
{
	size_t n;
	const char *s = tg_json_raw(&c->j, v, &n);

	/* jsmn's string tokens exclude the quotes */
	if (tg_json_is_str(&c->j, v))
		tg_buf_add(b, s - 1, n + 2);
	else
		tg_buf_add(b, s, n);
}

/* Which field key token k names, or F_COUNT for one outside the subset. */
static enum field
field_of(struct ir_ctx *c, int k)
{
	for (int f = 0; f < F_COUNT; f++) {
		if (tg_json_eq(&c->j, k, fields[f].camel) ||
		    (fields[f].snake != NULL && tg_json_eq(&c->j, k, fields[f].snake)))
			return (enum field)f;
	}
	return F_COUNT;
}

/* An int64 as protobuf JSON writes it: a number, or a string of digits. */
static int
count(struct ir_ctx *c, int v, struct tg_buf *b, const char *where, const char *name)
{
	size_t n;
	const char *s = tg_json_raw(&c->j, v, &n);

	if (tg_json_is_num(&c->j, v) || (tg_json_is_str(&c->j, v) && n > 0 && n < 19 &&
					 strspn(s, "0123456789") >= n)) {
		tg_buf_add(b, s, n);
		return 0;
	}
	return ir_fail(c, "%s.%s: expected an integer", where, name);
}

/* The type, lower case; with nullable, the type and "null". */
static int
type(struct ir_ctx *c, int v, bool nullable, struct tg_buf *b, const char *where)
{
	char low[24];
	size_t n, k;
	const char *s;

	if (!tg_json_is_str(&c->j, v))
		return ir_fail(c, "%s.type: expected a string", where);
	s = tg_json_raw(&c->j, v, &n);
	if (n >= sizeof(low))
		return ir_fail(c, "%s.type: unknown type", where);
	for (k = 0; k < n; k++)
		low[k] = (char)(s[k] >= 'A' && s[k] <= 'Z' ? s[k] + 32 : s[k]);
	low[n] = '\0';
	if (strcmp(low, "type_unspecified") == 0)
		return 0;               /* no type said: any */
	if (strcmp(low, "string") != 0 && strcmp(low, "number") != 0 &&
	    strcmp(low, "integer") != 0 && strcmp(low, "boolean") != 0 &&
	    strcmp(low, "array") != 0 && strcmp(low, "object") != 0 && strcmp(low, "null") != 0)
		return ir_fail(c, "%s.type: unknown type %s", where, low);
	if (nullable && strcmp(low, "null") != 0)
		tg_buf_printf(b, "\"type\":[\"%s\",\"null\"]", low);
	else
		tg_buf_printf(b, "\"type\":\"%s\"", low);
	return 0;
}

/* A JSON array of schemas (anyOf), each converted. */
static int
schemas(struct ir_ctx *c, int v, bool nullable, struct tg_buf *b, const char *where, int depth)
{
	int i = 0;

	if (!tg_json_is_arr(&c->j, v))
		return ir_fail(c, "%s.anyOf: expected an array", where);
	tg_buf_puts(b, "\"anyOf\":[");
	for (int e = tg_json_first(&c->j, v); e != -1; e = tg_json_after(&c->j, v, e), i++) {
		char sub[96];
		snprintf(sub, sizeof(sub), "%s.anyOf[%d]", where, i);
		tg_buf_puts(b, i > 0 ? "," : "");
		if (convert(c, e, b, sub, depth + 1) == -1)
			return -1;
	}
	tg_buf_puts(b, nullable ? (i > 0 ? ",{\"type\":\"null\"}]" : "{\"type\":\"null\"}]") : "]");
	return 0;
}

/* properties: each member's value a schema. */
static int
properties(struct ir_ctx *c, int v, struct tg_buf *b, const char *where, int depth)
{
	bool first = true;

	if (!tg_json_is_obj(&c->j, v))
		return ir_fail(c, "%s.properties: expected an object", where);
	tg_buf_puts(b, "\"properties\":{");
	for (int k = tg_json_first(&c->j, v); k != -1; k = tg_json_after(&c->j, v, k)) {
		size_t n;
		const char *name = tg_json_raw(&c->j, k, &n);
		char sub[96];
		snprintf(sub, sizeof(sub), "%s.properties.%.*s", where, n > 40 ? 40 : (int)n, name);
		/* the key as the client wrote it, escapes and all */
		tg_buf_printf(b, "%s\"%.*s\":", first ? "" : ",", (int)n, name);
		first = false;
		if (convert(c, k + 1, b, sub, depth + 1) == -1)
			return -1;
	}
	tg_buf_puts(b, "}");
	return 0;
}

static int
convert(struct ir_ctx *c, int t, struct tg_buf *b, const char *where, int depth)
{
	int v[F_COUNT];
	bool nullable = false, first = true;
	size_t n;
	const char *raw;

	if (!tg_json_is_obj(&c->j, t))
		return ir_fail(c, "%s: expected a schema object", where);
	if (depth > IR_MAX_DEPTH)
		return ir_fail(c, "%s: nested too deep", where);
	for (int f = 0; f < F_COUNT; f++)
		v[f] = -1;
	tg_buf_puts(b, "{");
	for (int k = tg_json_first(&c->j, t); k != -1; k = tg_json_after(&c->j, t, k)) {
		enum field f = field_of(c, k);
		if (f != F_COUNT) {
			/* the first spelling of a field is the one that counts */
			if (v[f] == -1)
				v[f] = k + 1;
			continue;
		}
		/* not Gemini's: JSON Schema the client meant as such, passed on as it is */
		raw = tg_json_raw(&c->j, k, &n);
		tg_buf_printf(b, "%s\"%.*s\":", first ? "" : ",", (int)n, raw);
		raw_value(c, k + 1, b);
		first = false;
	}
	if (v[F_NULLABLE] != -1 && tg_json_bool(&c->j, v[F_NULLABLE], &nullable) == -1)
		return ir_fail(c, "%s.nullable: expected a boolean", where);
	for (int f = 0; f < F_COUNT; f++) {
		size_t before = b->len;
		int rc = 0;
		if (v[f] == -1 || f == F_NULLABLE || f == F_ORDERING)
			continue;       /* nullable is in type; the ordering is a hint to Gemini */
		if (f == F_FORMAT && tg_json_is_str(&c->j, v[f])) {
			bool gemini_only = false;
			for (size_t k = 0; gemini_formats[k] != NULL && !gemini_only; k++)
				gemini_only = tg_json_eq(&c->j, v[f], gemini_formats[k]);
			if (gemini_only)
				continue;
		}
		tg_buf_puts(b, first ? "" : ",");
		switch (f) {
		case F_TYPE:
			rc = type(c, v[f], nullable, b, where);
			break;
		case F_PROPERTIES:
			rc = properties(c, v[f], b, where, depth);
			break;
		case F_ITEMS: {
			char sub[96];
			snprintf(sub, sizeof(sub), "%s.items", where);
			tg_buf_puts(b, "\"items\":");
			rc = convert(c, v[f], b, sub, depth + 1);
			break;
		}
		case F_ANY_OF:
			rc = schemas(c, v[f], nullable && v[F_TYPE] == -1, b, where, depth);
			break;
		case F_ENUM:
			if (!tg_json_is_arr(&c->j, v[f]))
				return ir_fail(c, "%s.enum: expected an array", where);
			raw = tg_json_raw(&c->j, v[f], &n);
			/* a nullable enum admits null too, or null fails the enum */
			if (nullable && tg_json_first(&c->j, v[f]) != -1)
				tg_buf_printf(b, "\"enum\":%.*s,null]", (int)n - 1, raw);
			else
				tg_buf_printf(b, "\"enum\":%.*s", (int)n, raw);
			break;
		case F_EXAMPLE:
			/* OpenAPI's one example is JSON Schema's list of them */
			tg_buf_puts(b, "\"examples\":[");
			raw_value(c, v[f], b);
			tg_buf_puts(b, "]");
			break;
		case F_MIN_ITEMS: case F_MAX_ITEMS: case F_MIN_LENGTH: case F_MAX_LENGTH:
		case F_MIN_PROPERTIES: case F_MAX_PROPERTIES:
			tg_buf_printf(b, "\"%s\":", fields[f].camel);
			rc = count(c, v[f], b, where, fields[f].camel);
			break;
		default:
			tg_buf_printf(b, "\"%s\":", fields[f].camel);
			raw_value(c, v[f], b);
			break;
		}
		if (rc == -1)
			return -1;
		first = first && b->len == before;
	}
	tg_buf_puts(b, "}");
	return 0;
}

const char *
wire_gemini_schema(struct ir_ctx *c, int t, const char *where)
{
	struct tg_buf b;
	const char *r = NULL;

	tg_buf_init(&b);
	if (convert(c, t, &b, where, 0) == 0) {
		r = b.failed ? NULL : ir_dup(c, b.p, b.len);
		if (r == NULL)
			ir_fail(c, "out of memory");
	}
	tg_buf_fini(&b);
	/* a string that would not decode is refused by the caller's ir_check */
	return r != NULL && ir_check(c) == 0 ? r : NULL;
}
