/* STUB */
#include <moeverify/hermite.h>
