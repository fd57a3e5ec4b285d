#include "postoffice.h"
int main(void){return 0;}
