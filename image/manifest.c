/* SPDX-License-Identifier: Apache-2.0 */
#include "manifest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "ref.h"

void img_platform_host(img_platform_t *p)
{
	struct utsname u;
	p->os = "linux";
	p->arch = "amd64";
	p->variant = "";
	if (uname(&u) != 0)
		return;
	static const struct {
		const char *machine, *arch, *variant;
	} map[] = {
		{ "x86_64", "amd64", "" },   { "aarch64", "arm64", "v8" }, { "armv7l", "arm", "v7" },
		{ "armv6l", "arm", "v6" },   { "i686", "386", "" },        { "i386", "386", "" },
		{ "ppc64le", "ppc64le", "" }, { "s390x", "s390x", "" },    { "riscv64", "riscv64", "" },
	};
	for (size_t i = 0; i < CRL_ARRAY_SIZE(map); i++)
		if (strcmp(u.machine, map[i].machine) == 0) {
			p->arch = map[i].arch;
			p->variant = map[i].variant;
		}
}

static void desc_clear(img_descriptor_t *d)
{
	free(d->media_type);
	free(d->digest);
	memset(d, 0, sizeof(*d));
}

void img_manifest_free(img_manifest_t *m)
{
	if (!m)
		return;
	free(m->media_type);
	desc_clear(&m->config);
	desc_clear(&m->chosen);
	for (size_t i = 0; i < m->n_layers; i++)
		desc_clear(&m->layers[i]);
	free(m->layers);
	free(m);
}

static int parse_desc(const crl_json_value_t *v, const char *what, img_descriptor_t *d, crl_error_t *err)
{
	const char *mt = crl_json_get_string(crl_json_get(v, "mediaType"));
	const char *dg = crl_json_get_string(crl_json_get(v, "digest"));
	int64_t size = -1;
	if (!crl_json_is_object(v) || !dg)
		return crl_error_set(err, EBADMSG, "%s: descriptor without a digest", what);
	if (!img_digest_valid(dg))
		return crl_error_set(err, EBADMSG, "%s: unsupported digest '%.80s' (only sha256)", what, dg);
	if (!crl_json_get_int(crl_json_get(v, "size"), &size) || size < 0)
		return crl_error_set(err, EBADMSG, "%s %s: missing or negative size", what, dg);
	if (!(d->digest = strdup(dg)) || !(d->media_type = strdup(mt ? mt : "")))
		return crl_error_set(err, ENOMEM, "out of memory");
	d->size = size;
	return 0;
}

static int layer_compression(img_descriptor_t *d, crl_error_t *err)
{
	const char *mt = d->media_type;
	size_t n = strlen(mt);
	if (strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar.gzip") == 0 ||
	    (n > 5 && strcmp(mt + n - 5, "+gzip") == 0))
		d->compression = IMG_COMP_GZIP;
	else if (strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar.zstd") == 0 ||
		 (n > 5 && strcmp(mt + n - 5, "+zstd") == 0))
		d->compression = IMG_COMP_ZSTD;
	else if (strcmp(mt, "application/vnd.oci.image.layer.v1.tar") == 0 ||
		 strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar") == 0)
		d->compression = IMG_COMP_NONE;
	else if (strstr(mt, "foreign") || strstr(mt, "nondistributable"))
		return crl_error_set(err, EOPNOTSUPP, "layer %s: foreign layers (%s) are not supported", d->digest, mt);
	else
		return crl_error_set(err, EOPNOTSUPP, "layer %s: unsupported media type '%s'", d->digest, mt);
	return 0;
}

static bool str_eq(const crl_json_value_t *v, const char *s)
{
	const char *x = crl_json_get_string(v);
	return x && strcmp(x, s) == 0;
}

static int choose(const crl_json_value_t *list, const img_platform_t *p, img_manifest_t *m, crl_error_t *err)
{
	size_t n = crl_json_array_len(list);
	const crl_json_value_t *best = NULL;
	int best_score = 0;
	char seen[512] = "";
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		const crl_json_value_t *e = crl_json_array_at(list, i);
		const crl_json_value_t *pl = crl_json_get(e, "platform");
		const char *os = crl_json_get_string(crl_json_get(pl, "os"));
		const char *arch = crl_json_get_string(crl_json_get(pl, "architecture"));
		const char *var = crl_json_get_string(crl_json_get(pl, "variant"));
		if (os && arch && o < sizeof(seen) - 64)
			o += (size_t)snprintf(seen + o, sizeof(seen) - o, "%s%s/%s%s%s", o ? ", " : "", os, arch,
					      var ? "/" : "", var ? var : "");
		if (!str_eq(crl_json_get(pl, "os"), p->os) || !str_eq(crl_json_get(pl, "architecture"), p->arch))
			continue;
		int score = 1;
		if (var && *var) {
			if (strcmp(var, p->variant) != 0)
				continue;
			score = 2;
		}
		if (score > best_score) {
			best = e;
			best_score = score;
		}
	}
	if (!best)
		return crl_error_set(err, ENOENT, "no image for %s/%s%s%s in the index (it has %s)", p->os, p->arch,
				     *p->variant ? "/" : "", p->variant, o ? seen : "no platforms");
	return parse_desc(best, "index entry", &m->chosen, err);
}

int img_manifest_parse(const char *text, size_t len, const char *media_type, const img_platform_t *platform,
		       img_manifest_t **ret, crl_error_t *err)
{
	if (len > IMG_MANIFEST_MAX_BYTES)
		return crl_error_set(err, EFBIG, "manifest is %zu bytes, more than the limit of %d", len,
				     IMG_MANIFEST_MAX_BYTES);
	crl_json_value_t *doc = NULL;
	if (crl_json_parse(text, &doc, err) < 0)
		return crl_error_wrap(err, "manifest");
	img_manifest_t *m = calloc(1, sizeof(*m));
	int r = 0;
	if (!m) {
		crl_json_value_free(doc);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	const char *own = crl_json_get_string(crl_json_get(doc, "mediaType"));
	/* The Content-Type wins, unless it is generic. */
	const char *mt = media_type && *media_type && strcmp(media_type, "application/json") != 0 &&
					 strcmp(media_type, "text/plain") != 0
				 ? media_type
				 : own;
	int64_t schema = 0;
	crl_json_get_int(crl_json_get(doc, "schemaVersion"), &schema);
	const crl_json_value_t *manifests = crl_json_get(doc, "manifests");
	if (!mt)
		mt = manifests ? IMG_MT_OCI_INDEX : IMG_MT_OCI_MANIFEST;
	if (!crl_json_is_object(doc))
		r = crl_error_set(err, EBADMSG, "manifest is not a JSON object");
	else if (schema != 2)
		r = crl_error_set(err, EOPNOTSUPP, "manifest schemaVersion %lld is not supported (only 2)", (long long)schema);
	else if (!(m->media_type = strdup(mt)))
		r = crl_error_set(err, ENOMEM, "out of memory");
	else if (strcmp(mt, IMG_MT_DOCKER_LIST) == 0 || strcmp(mt, IMG_MT_OCI_INDEX) == 0) {
		m->is_index = true;
		r = choose(manifests, platform, m, err);
	} else if (strcmp(mt, IMG_MT_DOCKER_MANIFEST) == 0 || strcmp(mt, IMG_MT_OCI_MANIFEST) == 0) {
		const crl_json_value_t *layers = crl_json_get(doc, "layers");
		size_t n = crl_json_array_len(layers);
		if ((r = parse_desc(crl_json_get(doc, "config"), "config", &m->config, err)) < 0)
			;
		else if (n > IMG_MAX_LAYERS)
			r = crl_error_set(err, E2BIG, "image has %zu layers, more than the limit of %d", n, IMG_MAX_LAYERS);
		else if (!(m->layers = calloc(n ? n : 1, sizeof(*m->layers))))
			r = crl_error_set(err, ENOMEM, "out of memory");
		for (size_t i = 0; r == 0 && i < n; i++) {
			m->n_layers++;
			if ((r = parse_desc(crl_json_array_at(layers, i), "layer", &m->layers[i], err)) == 0)
				r = layer_compression(&m->layers[i], err);
		}
	} else {
		r = crl_error_set(err, EOPNOTSUPP, "unsupported manifest media type '%s'", mt);
	}
	crl_json_value_free(doc);
	if (r < 0) {
		img_manifest_free(m);
		return r;
	}
	*ret = m;
	return 0;
}

void img_config_free(img_config_t *c)
{
	if (!c)
		return;
	free(c->user);
	crl_strv_free(c->diff_ids);
	free(c->os);
	free(c->arch);
	free(c);
}

int img_config_parse(const char *text, size_t len, img_config_t **ret, crl_error_t *err)
{
	if (len > IMG_CONFIG_MAX_BYTES)
		return crl_error_set(err, EFBIG, "image config is %zu bytes, more than the limit of %d", len,
				     IMG_CONFIG_MAX_BYTES);
	crl_json_value_t *doc = NULL;
	if (crl_json_parse(text, &doc, err) < 0)
		return crl_error_wrap(err, "image config");
	img_config_t *c = calloc(1, sizeof(*c));
	int r = 0;
	const char *user = crl_json_get_string(crl_json_get(crl_json_get(doc, "config"), "User"));
	const char *os = crl_json_get_string(crl_json_get(doc, "os"));
	const char *arch = crl_json_get_string(crl_json_get(doc, "architecture"));
	const crl_json_value_t *ids = crl_json_get(crl_json_get(doc, "rootfs"), "diff_ids");
	size_t n = crl_json_array_len(ids);
	if (!c)
		r = crl_error_set(err, ENOMEM, "out of memory");
	else if (!crl_json_is_object(doc))
		r = crl_error_set(err, EBADMSG, "image config is not a JSON object");
	else if (n > IMG_MAX_LAYERS)
		r = crl_error_set(err, E2BIG, "image config lists %zu layers, more than %d", n, IMG_MAX_LAYERS);
	else if (!(c->user = strdup(user ? user : "")) || !(c->os = strdup(os ? os : "")) ||
		 !(c->arch = strdup(arch ? arch : "")) || !(c->diff_ids = calloc(n + 1, sizeof(char *))))
		r = crl_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; r == 0 && i < n; i++) {
		const char *d = crl_json_get_string(crl_json_array_at(ids, i));
		if (!img_digest_valid(d))
			r = crl_error_set(err, EBADMSG, "image config: diff_id %zu is not a sha256 digest", i);
		else if (!(c->diff_ids[i] = strdup(d)))
			r = crl_error_set(err, ENOMEM, "out of memory");
		else
			c->n_diff_ids++;
	}
	crl_json_value_free(doc);
	if (r < 0) {
		img_config_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

bool img_user_uid(const char *user, int64_t *ret_uid, const char **ret_name, size_t *ret_name_len)
{
	size_t n = strcspn(user, ":");
	*ret_name = user;
	*ret_name_len = n;
	if (n == 0 || n > 10)
		return false;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (user[i] < '0' || user[i] > '9')
			return false;
		v = v * 10 + (user[i] - '0');
	}
	if (v > 0xFFFFFFFFLL)
		return false;
	*ret_uid = v;
	return true;
}
