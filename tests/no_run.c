/* A shared object that loads but defines no prs_run: prs must refuse it by name. */
int prs_not_run(void);
int prs_not_run(void) {
    return 0;
}
