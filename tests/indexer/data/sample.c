#include <stdio.h>
#include "util.h"

#define MAX 10

typedef struct point {
    int x;
    int y;
} point_t;

struct node { struct node *next; };

enum color { RED, GREEN };

static int counter = 0;

/* Adds two ints. */
int add(int a, int b) {
    return helper(a) + b;
}

int *make(void);
