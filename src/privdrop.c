#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "privdrop.h"

int
privdrop(const char *user, const char *group, char *err, size_t errlen)
{
	struct passwd	*pw;
	struct group	*gr;
	gid_t		 gid;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "user %s: %s", user, errno ?
		    strerror(errno) : "no such user");
		return -1;
	}
	gid = pw->pw_gid;
	if (group != NULL) {
		errno = 0;
		if ((gr = getgrnam(group)) == NULL) {
			snprintf(err, errlen, "group %s: %s", group, errno ?
			    strerror(errno) : "no such group");
			return -1;
		}
		gid = gr->gr_gid;
	}
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		snprintf(err, errlen, "cannot become user %s: %s (ternd must "
		    "start as root to drop privileges)", user,
		    strerror(errno));
		return -1;
	}
	/* Regaining root must fail now; if it does not, refuse to run. */
	if (pw->pw_uid != 0 && setuid(0) != -1) {
		snprintf(err, errlen, "still able to regain root after "
		    "becoming %s", user);
		return -1;
	}
	return 0;
}
