# Walks a directory tree without following symlinks and prints one JSON object per entry (used by tree.ts).
import hashlib, json, os, stat, sys

root = sys.argv[1]
TYPES = [(stat.S_ISREG, 'file'), (stat.S_ISDIR, 'dir'), (stat.S_ISLNK, 'symlink'), (stat.S_ISCHR, 'char'),
         (stat.S_ISBLK, 'block'), (stat.S_ISFIFO, 'fifo'), (stat.S_ISSOCK, 'socket')]

def describe(full, rel):
    st = os.lstat(full)
    kind = next(name for test, name in TYPES if test(st.st_mode))
    e = {'path': rel, 'type': kind, 'mode': stat.S_IMODE(st.st_mode), 'uid': st.st_uid, 'gid': st.st_gid,
         'mtime': int(st.st_mtime), 'ino': '%d:%d' % (st.st_dev, st.st_ino), 'nlink': st.st_nlink}
    if kind == 'file':
        e['size'] = st.st_size
        h = hashlib.sha256()
        with open(full, 'rb') as f:
            for chunk in iter(lambda: f.read(1 << 20), b''):
                h.update(chunk)
        e['sha256'] = h.hexdigest()
    elif kind == 'symlink':
        e['target'] = os.readlink(full)
        e['size'] = len(os.fsencode(e['target']))
    elif kind in ('char', 'block'):
        e['rdevMajor'] = os.major(st.st_rdev)
        e['rdevMinor'] = os.minor(st.st_rdev)
    xattrs = {}
    try:
        names = os.listxattr(full, follow_symlinks=False)
    except OSError:
        names = []
    for name in sorted(names):
        xattrs[name] = os.getxattr(full, name, follow_symlinks=False).hex()
    e['xattrs'] = xattrs
    print(json.dumps(e, sort_keys=True))

describe(root, '/')
for dirpath, dirnames, filenames in os.walk(root):
    dirnames.sort()
    rel_dir = '/' + os.path.relpath(dirpath, root) if dirpath != root else ''
    for name in sorted(dirnames + filenames):
        describe(os.path.join(dirpath, name), rel_dir + '/' + name)
