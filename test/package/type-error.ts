// Must NOT compile: the learning rate is a string. scripts/test-package.sh checks tsc rejects it.
import { sgd } from 'bigstep';

export const optimizer = sgd({ lr: '0.1' });
