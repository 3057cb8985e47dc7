/* The client simulator's receive loop for UPDATEs, compiled (benchmarks/reflector/native.py
 * builds it; client.py falls back to the same loop in Python when it cannot be built).
 *
 * At 1,600 clients a reflector sends the simulator some 5 million one-prefix UPDATEs; the
 * Python loop spent about 1 us on each, so the simulator, not the reflector, set the pace.
 * This is the same loop, statement for statement (Client._receive in client.py): it walks
 * whole UPDATE messages from an offset, looks each one up by its bytes in the scoreboard's
 * cache of decoded effects (a tuple of (is_ipv6, origin, octet) per prefix), and applies the
 * effects to the client's arrays. It stops, and leaves the message to the Python loop, at
 * anything else: a message that is not an UPDATE, an UPDATE not in the cache (decoded there,
 * with every check), a bad header, an incomplete message.
 *
 * scan(buf, off, cache, me, have4, have6, want4, want6)
 *   -> (off, updates, prefixes, unknown, good4_delta, good6_delta)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

static const unsigned char MARKER[16] = {255, 255, 255, 255, 255, 255, 255, 255,
                                         255, 255, 255, 255, 255, 255, 255, 255};

static PyObject *scan(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "scan() takes 8 arguments");
        return NULL;
    }
    PyObject *buf = args[0], *cache = args[2];
    if (!PyBytes_Check(buf) || !PyDict_Check(cache)) {
        PyErr_SetString(PyExc_TypeError, "scan(): buf must be bytes and cache a dict");
        return NULL;
    }
    Py_ssize_t off = PyLong_AsSsize_t(args[1]);
    long me = PyLong_AsLong(args[3]);
    if (PyErr_Occurred())
        return NULL;
    Py_buffer views[4];
    int got = 0;
    for (; got < 4; got++) {
        if (PyObject_GetBuffer(args[4 + got], &views[got], got < 2 ? PyBUF_WRITABLE : PyBUF_SIMPLE) < 0)
            goto fail;
    }
    unsigned char *have[2] = {views[0].buf, views[1].buf};
    const unsigned char *want[2] = {views[2].buf, views[3].buf};
    Py_ssize_t size[2] = {views[0].len, views[1].len};
    if (views[2].len < size[0] || views[3].len < size[1]) {
        PyErr_SetString(PyExc_ValueError, "scan(): a want array is shorter than its have array");
        goto fail;
    }

    const unsigned char *data = (const unsigned char *)PyBytes_AS_STRING(buf);
    Py_ssize_t total = PyBytes_GET_SIZE(buf);
    long updates = 0, prefixes = 0, unknown = 0, good[2] = {0, 0};
    while (off >= 0 && total - off >= 19) {
        Py_ssize_t length = (data[off + 16] << 8) | data[off + 17];
        if (length < 19 || off + length > total || data[off + 18] != 2 || memcmp(data + off, MARKER, 16) != 0)
            break;
        PyObject *key = PyBytes_FromStringAndSize((const char *)data + off, length);
        if (key == NULL)
            goto fail;
        PyObject *effects = PyDict_GetItemWithError(cache, key); /* borrowed */
        Py_DECREF(key);
        if (effects == NULL) {
            if (PyErr_Occurred())
                goto fail;
            break; /* not seen before: the Python loop decodes it */
        }
        if (!PyTuple_Check(effects)) {
            PyErr_SetString(PyExc_TypeError, "scan(): cached effects must be a tuple");
            goto fail;
        }
        Py_ssize_t count = PyTuple_GET_SIZE(effects);
        for (Py_ssize_t k = 0; k < count; k++) {
            PyObject *e = PyTuple_GET_ITEM(effects, k);
            if (!PyTuple_Check(e) || PyTuple_GET_SIZE(e) != 3) {
                PyErr_SetString(PyExc_TypeError, "scan(): an effect must be a 3-tuple");
                goto fail;
            }
            int v6 = PyTuple_GET_ITEM(e, 0) == Py_True;
            long j = PyLong_AsLong(PyTuple_GET_ITEM(e, 1));
            long v = PyLong_AsLong(PyTuple_GET_ITEM(e, 2));
            if (PyErr_Occurred())
                goto fail;
            if (j == me)
                continue;
            if (j < 0) {
                unknown++;
                continue;
            }
            if (j >= size[v6]) {
                PyErr_SetString(PyExc_IndexError, "scan(): origin out of range");
                goto fail;
            }
            unsigned char old = have[v6][j];
            if (old != (unsigned char)v) {
                have[v6][j] = (unsigned char)v;
                unsigned char w = want[v6][j];
                if (old == w)
                    good[v6]--;
                else if ((unsigned char)v == w)
                    good[v6]++;
            }
        }
        updates++;
        prefixes += count;
        off += length;
    }
    for (int i = 0; i < 4; i++)
        PyBuffer_Release(&views[i]);
    return Py_BuildValue("(nlllll)", off, updates, prefixes, unknown, good[0], good[1]);

fail:
    for (int i = 0; i < got; i++)
        PyBuffer_Release(&views[i]);
    return NULL;
}

static PyMethodDef methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL, "Apply a run of cached UPDATEs to a client."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "fastrecv", NULL, -1, methods};

PyMODINIT_FUNC PyInit_fastrecv(void) { return PyModule_Create(&module); }
