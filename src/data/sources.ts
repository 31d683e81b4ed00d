/**
 * Where each named dataset's files are, what they are called, and where they can be downloaded
 * from (official addresses and published checksums).
 */
import type { Checksum } from './download.js';
import { CIFAR10_FORMAT, CIFAR100_COARSE_FORMAT, CIFAR100_FINE_FORMAT, type CifarFormat } from './cifar.js';

/** The named data sets {@link loadDataset} knows. */
export type DatasetName = 'mnist' | 'fashion-mnist' | 'cifar10' | 'cifar100';
/** Every {@link DatasetName}. */
export const DATASET_NAMES: readonly DatasetName[] = ['mnist', 'fashion-mnist', 'cifar10', 'cifar100'];

/** Debian's `dataset-fashion-mnist` package installs the four .gz files here. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export interface SystemDir {
  dir: string;
  source: string;
}

export interface IdxSource {
  kind: 'idx';
  name: DatasetName;
  /** Base names; each may be present as is or with ".gz". */
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
  /** Official download base URLs, tried in order; files are "<base><file>.gz". */
  baseUrls: string[];
  /** Published checksums of the .gz files. */
  checksums: Record<string, Checksum>;
  systemDirs: SystemDir[];
  howTo: string[];
}

export interface CifarSource {
  kind: 'cifar';
  name: DatasetName;
  /** Top-level directory inside the archive, e.g. "cifar-10-batches-bin". */
  subdir: string;
  train: string[];
  test: string[];
  archive: string;
  baseUrls: string[];
  checksum: Checksum;
  format: (label?: 'fine' | 'coarse') => CifarFormat;
  systemDirs: SystemDir[];
  howTo: string[];
}

export type DatasetSource = IdxSource | CifarSource;

const IDX_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
};

export const SOURCES: Record<DatasetName, DatasetSource> = {
  'fashion-mnist': {
    kind: 'idx',
    name: 'fashion-mnist',
    ...IDX_FILES,
    // https://github.com/zalandoresearch/fashion-mnist#get-the-data (MD5s as published there)
    baseUrls: [
      'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
      'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/',
    ],
    checksums: {
      'train-images-idx3-ubyte.gz': { md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d' },
      'train-labels-idx1-ubyte.gz': { md5: '25c81989df183df01b3e8a0aad5dffbe' },
      't10k-images-idx3-ubyte.gz': { md5: 'bef4ecab320f06d8554ea6380940ec79' },
      't10k-labels-idx1-ubyte.gz': { md5: 'bb300cfdad3c16e7a12a480ee83cd310' },
    },
    systemDirs: [{ dir: DEBIAN_FASHION_MNIST_DIR, source: 'Debian package dataset-fashion-mnist' }],
    howTo: [
      'on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist (installs the files into /usr/share/datasets/fashion-mnist)',
      'or download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz ' +
        'from https://github.com/zalandoresearch/fashion-mnist into one of the directories above',
    ],
  },
  mnist: {
    kind: 'idx',
    name: 'mnist',
    ...IDX_FILES,
    // The original site (yann.lecun.com) is often unavailable; the S3 mirror serves identical files.
    baseUrls: ['https://ossci-datasets.s3.amazonaws.com/mnist/', 'http://yann.lecun.com/exdb/mnist/'],
    checksums: {
      'train-images-idx3-ubyte.gz': { md5: 'f68b3c2dcbeaaa9fbdd348bbdeb94873' },
      'train-labels-idx1-ubyte.gz': { md5: 'd53e105ee54ea40749a09fcbcd1e9432' },
      't10k-images-idx3-ubyte.gz': { md5: '9fb629c4189551a2d022fa330f9573f3' },
      't10k-labels-idx1-ubyte.gz': { md5: 'ec29112dd5afa0611ce80d1b7f02629c' },
    },
    systemDirs: [],
    howTo: [
      'download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz ' +
        'from http://yann.lecun.com/exdb/mnist/ (mirror: https://ossci-datasets.s3.amazonaws.com/mnist/) into one of the directories above',
    ],
  },
  cifar10: {
    kind: 'cifar',
    name: 'cifar10',
    subdir: 'cifar-10-batches-bin',
    train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
    test: ['test_batch.bin'],
    archive: 'cifar-10-binary.tar.gz',
    // https://www.cs.toronto.edu/~kriz/cifar.html (MD5 as published there)
    baseUrls: ['https://www.cs.toronto.edu/~kriz/'],
    checksum: { md5: 'c32a1d4ab5d03f1284b67883e8d87530' },
    format: () => CIFAR10_FORMAT,
    systemDirs: [],
    howTo: [
      'download cifar-10-binary.tar.gz ("CIFAR-10 binary version") from https://www.cs.toronto.edu/~kriz/cifar.html ' +
        'and extract it into one of the directories above (giving cifar-10-batches-bin/data_batch_1.bin ...)',
    ],
  },
  cifar100: {
    kind: 'cifar',
    name: 'cifar100',
    subdir: 'cifar-100-binary',
    train: ['train.bin'],
    test: ['test.bin'],
    archive: 'cifar-100-binary.tar.gz',
    baseUrls: ['https://www.cs.toronto.edu/~kriz/'],
    checksum: { md5: '03b5dce01913d631647c71ecec9e9cb8' },
    format: (label) => (label === 'coarse' ? CIFAR100_COARSE_FORMAT : CIFAR100_FINE_FORMAT),
    systemDirs: [],
    howTo: [
      'download cifar-100-binary.tar.gz ("CIFAR-100 binary version") from https://www.cs.toronto.edu/~kriz/cifar.html ' +
        'and extract it into one of the directories above (giving cifar-100-binary/train.bin, test.bin)',
    ],
  },
};
