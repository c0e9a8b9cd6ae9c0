/* SPDX-License-Identifier: Apache-2.0 */
#include "image_common.h"

#include <errno.h>
#include <string.h>

#include "image/manifest.h"

int srv_image_name(const Runtime__V1__ImageSpec *spec, const char *field, const char **ret, crl_error_t *err)
{
	const char *name = spec ? spec->image : NULL;
	if (!name || !*name)
		return crl_error_set(err, EINVAL, "%s is empty", field);
	if (strlen(name) > SRV_IMAGE_NAME_MAX)
		return crl_error_set(err, EINVAL, "%s is longer than %d bytes", field, SRV_IMAGE_NAME_MAX);
	*ret = name;
	return 0;
}

static char **copy_strv(srv_call_t *call, char *const *v, size_t n)
{
	char **out = srv_call_alloc(call, (n ? n : 1) * sizeof(char *));
	for (size_t i = 0; out && i < n; i++)
		if (!(out[i] = srv_call_strdup(call, v[i])))
			return NULL;
	return out;
}

Runtime__V1__Image *srv_image_to_proto(srv_call_t *call, const img_image_t *img)
{
	Runtime__V1__Image *m = srv_call_alloc(call, sizeof(*m));
	Runtime__V1__ImageSpec *spec = srv_call_alloc(call, sizeof(*spec));
	if (!m || !spec)
		return NULL;
	runtime__v1__image__init(m);
	runtime__v1__image_spec__init(spec);
	m->id = srv_call_strdup(call, img->id);
	m->repo_tags = copy_strv(call, img->repo_tags, img->n_tags);
	m->n_repo_tags = img->n_tags;
	m->repo_digests = copy_strv(call, img->repo_digests, img->n_digests);
	m->n_repo_digests = img->n_digests;
	m->size = img->size;
	spec->image = m->id;
	m->spec = spec;
	if (!m->id || !m->repo_tags || !m->repo_digests)
		return NULL;
	/* kubelet's runAsNonRoot checks need the uid when the image names a numeric user, the name otherwise. */
	int64_t uid;
	const char *name;
	size_t nl;
	if (img_user_uid(img->user, &uid, &name, &nl)) {
		Runtime__V1__Int64Value *u = srv_call_alloc(call, sizeof(*u));
		if (!u)
			return NULL;
		runtime__v1__int64_value__init(u);
		u->value = uid;
		m->uid = u;
	} else if (nl > 0) {
		char *un = srv_call_alloc(call, nl + 1);
		if (!un)
			return NULL;
		memcpy(un, name, nl);
		un[nl] = '\0';
		m->username = un;
	}
	return m;
}
