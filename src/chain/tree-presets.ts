/**
 * The `tree` presets of a policy (`tree: { preset: firefox }`): for every product the reference verifier
 * configures, the facts of its configuration, transcribed from mozilla-releng/scriptworker
 * `src/scriptworker/constants.py` at commit 66a7a5cddaceae9ac96e685f20a6f296ec96e723 (DEFAULT_CONFIG, each key's
 * `by-cot-product` entry; the comment above each value gives its line and key there), and `cot/verify.py`
 * get_valid_task_types for the kinds that must run on scriptworker. Python's named groups `(?P<path>...)` are
 * written `(?<path>...)`, the JavaScript form of the same pattern. Data only: tree-policy.ts reads it.
 */

/** One trusted repository rule (the reference's `trusted_vcs_rules` entry): a URL matches when its scheme and host
 * are listed and one pattern matches its path; the pattern's `path` group is the repository path. */
export interface TrustedRepositoryRule {
  schemes: string[];
  hosts: string[];
  pathPatterns: string[];
}

/** A product's tree rules. */
export interface TreePreset {
  /** hg or github (`cot_product_type`): how a try push or a pull request is recognised */
  productType: 'hg' | 'github';
  /** repositories that may hold restricted scopes (`trusted_vcs_rules`) */
  trustedRepositories: TrustedRepositoryRule[];
  /** the `tasks_for` values a parent task may have (`valid_tasks_for`) */
  tasksFor: string[];
  /** prefix of the repository variables in `payload.env` (`source_env_prefix`): `<PREFIX>_HEAD_REPOSITORY` */
  envPrefix: string;
  /** restricted scope (exact, or ending in `*` for a prefix) -> its level (`cot_restricted_scopes`) */
  restrictedScopes: Record<string, string>;
  /** level -> the repository paths it allows (`cot_restricted_trees`) */
  restrictedTrees: Record<string, string[]>;
  /** task kinds that may run a prebuilt docker image, or "any" (`prebuilt_docker_image_task_types`) */
  prebuiltDockerImageTaskTypes: string[] | 'any';
  /** the GitHub owner of the official repositories ("" for hg products) (`official_github_repos_owner`) */
  githubOwner: string;
  /** task kinds that must run on a scriptworker implementation (verify.py get_valid_task_types, the kinds mapped
   * to verify_scriptworker_task) */
  scriptworkerKinds: string[];
}

// cot/verify.py get_valid_task_types (lines 448-461 at the commit above): the kinds verified by verify_scriptworker_task
const SCRIPTWORKER_KINDS = ['scriptworker', 'balrog', 'beetmover', 'bouncer', 'pushapk', 'shipit', 'signing'];

/** The presets, by product name (the reference's `cot_product`). */
export const TREE_PRESETS: Readonly<Record<string, TreePreset>> = {
  adhoc: {
    // constants.py:142 cot_product_type
    productType: 'github',
    // constants.py:315 trusted_vcs_rules
    trustedRepositories: [
      {
        schemes: ['https', 'ssh'],
        hosts: ['github.com'],
        pathPatterns: ['^(?<path>/mozilla-releng/(?:adhoc-signing|adhoc-manifest))(/|.git|$)'],
      },
    ],
    // constants.py:432 valid_tasks_for
    tasksFor: ['action', 'github-pull-request', 'github-push'],
    // constants.py:808 source_env_prefix
    envPrefix: 'ADHOC',
    // constants.py:521 cot_restricted_scopes
    restrictedScopes: { 'project:adhoc:signing:cert:release-signing': 'adhoc-signing-repos' },
    // constants.py:644 cot_restricted_trees
    restrictedTrees: {
      'adhoc-signing-repos': ['/mozilla-releng/adhoc-signing', '/mozilla-releng/adhoc-manifest'],
    },
    // constants.py:789 prebuilt_docker_image_task_types
    prebuiltDockerImageTaskTypes: 'any',
    // constants.py:501 official_github_repos_owner
    githubOwner: 'mozilla-releng',
    scriptworkerKinds: SCRIPTWORKER_KINDS,
  },
  'app-services': {
    // constants.py:143 cot_product_type
    productType: 'github',
    // constants.py:324 trusted_vcs_rules
    trustedRepositories: [
      {
        schemes: ['https', 'ssh'],
        hosts: ['github.com'],
        pathPatterns: ['^(?<path>/mozilla/application-services)(/|.git|$)'],
      },
    ],
    // constants.py:433 valid_tasks_for
    tasksFor: ['action', 'cron', 'github-pull-request', 'github-push', 'github-release'],
    // constants.py:809 source_env_prefix
    envPrefix: 'APPSERVICES',
    // constants.py:522 cot_restricted_scopes
    restrictedScopes: {
      'project:mozilla:app-services:releng:beetmover:bucket:maven-production': 'app-services-repo',
      'project:mozilla:app-services:releng:beetmover:bucket:release': 'app-services-repo',
      'project:mozilla:app-services:releng:signing:cert:release-signing': 'app-services-repo',
    },
    // constants.py:652 cot_restricted_trees
    restrictedTrees: { 'app-services-repo': ['/mozilla/application-services'] },
    // constants.py:788 prebuilt_docker_image_task_types
    prebuiltDockerImageTaskTypes: 'any',
    // constants.py:502 official_github_repos_owner
    githubOwner: 'mozilla',
    scriptworkerKinds: SCRIPTWORKER_KINDS,
  },
  enterprise: {
    // constants.py:144 cot_product_type
    productType: 'github',
    // constants.py:333 trusted_vcs_rules
    trustedRepositories: [
      {
        schemes: ['https', 'ssh'],
        hosts: ['github.com'],
        pathPatterns: ['^(?<path>/mozilla/enterprise-firefox)(/|.git|$)'],
      },
    ],
    // constants.py:440 valid_tasks_for
    tasksFor: ['action', 'cron', 'github-pull-request', 'github-push', 'github-release', 'pr-action'],
    // constants.py:810 source_env_prefix
    envPrefix: 'GECKO',
    // constants.py:529 cot_restricted_scopes
    restrictedScopes: {
      'project:enterprise:releng:signing:cert:nightly-signing': 'enterprise-firefox-repo',
      'project:enterprise:releng:signing:cert:release-signing': 'enterprise-firefox-repo',
      'project:enterprise:releng:signing:cert:production-signing': 'enterprise-firefox-repo',
      'project:enterprise:releng:signing:cert:fennec-production-signing': 'enterprise-firefox-repo',
    },
    // constants.py:653 cot_restricted_trees
    restrictedTrees: { 'enterprise-firefox-repo': ['/mozilla/enterprise-firefox'] },
    // constants.py:790 prebuilt_docker_image_task_types
    prebuiltDockerImageTaskTypes: ['decision', 'action', 'docker-image'],
    // constants.py:503 official_github_repos_owner
    githubOwner: 'mozilla',
    scriptworkerKinds: SCRIPTWORKER_KINDS,
  },
  firefox: {
    // constants.py:145 cot_product_type
    productType: 'hg',
    // constants.py:342 trusted_vcs_rules
    trustedRepositories: [
      {
        schemes: ['https', 'ssh'],
        hosts: ['hg.mozilla.org'],
        pathPatterns: [
          '^(?<path>/mozilla-(central|unified))(/|$)',
          '^(?<path>/integration/autoland)(/|$)',
          '^(?<path>/releases/mozilla-(beta|release|esr\\d+))(/|$)',
          '^(?<path>/projects/(pine|maple|larch|cypress))(/|$)',
        ],
      },
    ],
    // constants.py:448 valid_tasks_for
    tasksFor: ['hg-push', 'cron', 'action'],
    // constants.py:811 source_env_prefix
    envPrefix: 'GECKO',
    // constants.py:537 cot_restricted_scopes
    restrictedScopes: {
      'project:releng:addons.mozilla.org:server:production': 'all-release-branches',
      'project:releng:balrog:server:nightly': 'all-nightly-branches',
      'project:releng:balrog:server:beta': 'beta',
      'project:releng:balrog:server:release': 'release',
      'project:releng:balrog:server:esr': 'esr',
      'project:releng:beetmover:bucket:nightly': 'all-nightly-branches',
      'project:releng:beetmover:bucket:release': 'all-release-branches-and-autoland',
      'project:releng:beetmover:bucket:maven-production': 'all-production-branches',
      'project:releng:beetmover:bucket:maven-nightly-production': 'nightly',
      'project:releng:bouncer:server:production': 'all-production-branches',
      'project:releng:signing:cert:nightly-signing': 'all-nightly-branches',
      'project:releng:signing:cert:release-signing': 'all-release-branches',
      'project:releng:signing:cert:production-signing': 'all-production-branches',
      'project:releng:signing:cert:fennec-production-signing': 'beta-or-release',
      'project:releng:flathub:firefox:beta': 'beta',
      'project:releng:flathub:firefox:stable': 'release',
      'project:releng:flathub:firefox:beta:org.mozilla.firefox': 'beta',
      'project:releng:flathub:firefox:stable:org.mozilla.firefox': 'release',
      'project:releng:googleplay:product:focus-android': 'all-production-branches',
      'project:releng:googleplay:product:fenix': 'all-production-branches',
      'project:releng:ship-it:production': 'all-production-branches',
      'project:releng:treescript:action:push': 'all-production-branches-and-autoland',
      'project:releng:microsoftstore:beta': 'beta',
      'project:releng:microsoftstore:release': 'release',
      'project:releng:lando:repo:autoland': 'autoland',
      'project:releng:lando:repo:nightly': 'nightly',
      'project:releng:lando:repo:beta': 'beta',
      'project:releng:lando:repo:release': 'release',
      'project:releng:lando:repo:esr115': 'esr115',
      'project:releng:lando:repo:esr140': 'esr140',
      'project:releng:lando:repo:esr153': 'esr153',
    },
    // constants.py:654 cot_restricted_trees
    restrictedTrees: {
      'all-release-branches': [
        '/releases/mozilla-beta',
        '/releases/mozilla-release',
        '/releases/mozilla-esr115',
        '/releases/mozilla-esr140',
        '/releases/mozilla-esr153',
        '/projects/birch',
        '/projects/maple',
      ],
      'all-release-branches-and-autoland': [
        '/releases/mozilla-beta',
        '/releases/mozilla-release',
        '/releases/mozilla-esr115',
        '/releases/mozilla-esr140',
        '/releases/mozilla-esr153',
        '/projects/birch',
        '/projects/maple',
        '/integration/autoland',
      ],
      release: ['/releases/mozilla-release'],
      beta: ['/releases/mozilla-beta'],
      'beta-or-release': ['/releases/mozilla-beta', '/releases/mozilla-release'],
      esr115: ['/releases/mozilla-esr115'],
      esr140: ['/releases/mozilla-esr140'],
      esr153: ['/releases/mozilla-esr153'],
      esr: ['/releases/mozilla-esr115', '/releases/mozilla-esr140', '/releases/mozilla-esr153'],
      nightly: ['/mozilla-central'],
      autoland: ['/integration/autoland'],
      'all-nightly-branches': [
        '/mozilla-central',
        '/releases/mozilla-unified',
        '/releases/mozilla-beta',
        '/releases/mozilla-release',
        '/releases/mozilla-esr115',
        '/releases/mozilla-esr140',
        '/releases/mozilla-esr153',
        '/projects/pine',
        '/projects/larch',
        '/projects/maple',
        '/projects/cypress',
      ],
      'all-production-branches': [
        '/mozilla-central',
        '/releases/mozilla-beta',
        '/releases/mozilla-release',
        '/releases/mozilla-esr115',
        '/releases/mozilla-esr140',
        '/releases/mozilla-esr153',
      ],
      'all-production-branches-and-autoland': [
        '/mozilla-central',
        '/releases/mozilla-beta',
        '/releases/mozilla-release',
        '/releases/mozilla-esr115',
        '/releases/mozilla-esr140',
        '/releases/mozilla-esr153',
        '/integration/autoland',
      ],
    },
    // constants.py:791 prebuilt_docker_image_task_types
    prebuiltDockerImageTaskTypes: ['decision', 'action', 'docker-image'],
    // constants.py:504 official_github_repos_owner
    githubOwner: '',
    scriptworkerKinds: SCRIPTWORKER_KINDS,
  },
  glean: {
    // constants.py:146 cot_product_type
    productType: 'github',
    // constants.py:357 trusted_vcs_rules
    trustedRepositories: [
      {
        schemes: ['https', 'ssh'],
        hosts: ['github.com'],
        pathPatterns: ['^(?<path>/mozilla/glean)(/|.git|$)'],
      },
    ],
    // constants.py:449 valid_tasks_for
    tasksFor: ['action', 'cron', 'github-pull-request', 'github-push', 'github-release'],
    // constants.py:812 source_env_prefix
    envPrefix: 'GLEAN',
    // constants.py:576 cot_restricted_scopes
    restrictedScopes: { 'project:mozilla:glean:releng:beetmover:bucket:maven-production': 'glean-repo' },
    // constants.py:728 cot_restricted_trees
    restrictedTrees: { 'glean-repo': ['/mozilla/glean'] },
    // constants.py:792 prebuilt_docker_image_task_types
    prebuiltDockerImageTaskTypes: 'any',
    // constants.py:505 official_github_repos_owner
    githubOwner: 'mozilla',
    scriptworkerKinds: SCRIPTWORKER_KINDS,
  },
  mobile: {
    // constants.py:147 cot_product_type
    productType: 'github',
    // constants.py:366 trusted_vcs_rules
    trustedRepositories: [
      {
        schemes: ['https', 'ssh'],
        hosts: ['github.com'],
        pathPatterns: ['^(?<path>/mozilla-mobile/(?:reference-browser))(/|.git|$)'],
      },
    ],
    // constants.py:456 valid_tasks_for
    tasksFor: [
      'action',
      'cron',
      'github-pull-request',
      'github-pull-request-untrusted',
      'github-push',
      'github-release',
    ],
    // constants.py:813 source_env_prefix
    envPrefix: 'MOBILE',
    // constants.py:577 cot_restricted_scopes
    restrictedScopes: {
      'project:mobile:reference-browser:releng:googleplay:product:reference-browser':
        'reference-browser-repo',
      'project:mobile:reference-browser:releng:signing:cert:release-signing': 'reference-browser-repo',
      'project:mobile:releng:treescript:action:push': 'firefox-ios-repo',
    },
    // constants.py:729 cot_restricted_trees
    restrictedTrees: {
      'reference-browser-repo': ['/mozilla-mobile/reference-browser'],
      'firefox-ios-repo': ['/mozilla-mobile/firefox-ios'],
    },
    // constants.py:794 prebuilt_docker_image_task_types
    prebuiltDockerImageTaskTypes: 'any',
    // constants.py:506 official_github_repos_owner
    githubOwner: 'mozilla-mobile',
    scriptworkerKinds: SCRIPTWORKER_KINDS,
  },
  mozillavpn: {
    // constants.py:148 cot_product_type
    productType: 'github',
    // constants.py:375 trusted_vcs_rules
    trustedRepositories: [
      {
        schemes: ['https', 'ssh'],
        hosts: ['github.com'],
        pathPatterns: ['^(?<path>/mozilla-mobile/(?:mozilla-vpn-client))(/|.git|$)'],
      },
    ],
    // constants.py:464 valid_tasks_for
    tasksFor: ['cron', 'github-pull-request', 'github-push', 'github-release', 'action'],
    // constants.py:814 source_env_prefix
    envPrefix: 'MOZILLAVPN',
    // constants.py:584 cot_restricted_scopes
    restrictedScopes: {
      'project:mozillavpn:releng:signing:cert:nightly-signing': 'mozillavpn-repo',
      'project:mozillavpn:releng:signing:cert:release-signing': 'mozillavpn-repo',
      'project:mozillavpn:releng:googleplay:product:mozillavpn': 'mozillavpn-repo',
      'project:mozillavpn:releng:beetmover:bucket:release': 'mozillavpn-repo',
    },
    // constants.py:735 cot_restricted_trees
    restrictedTrees: { 'mozillavpn-repo': ['/mozilla-mobile/mozilla-vpn-client'] },
    // constants.py:795 prebuilt_docker_image_task_types
    prebuiltDockerImageTaskTypes: 'any',
    // constants.py:507 official_github_repos_owner
    githubOwner: 'mozilla-mobile',
    scriptworkerKinds: SCRIPTWORKER_KINDS,
  },
  scriptworker: {
    // constants.py:149 cot_product_type
    productType: 'github',
    // constants.py:384 trusted_vcs_rules
    trustedRepositories: [
      {
        schemes: ['https', 'ssh'],
        hosts: ['github.com'],
        pathPatterns: ['^(?<path>/mozilla-releng/scriptworker(?:|-scripts))(/|.git|$)'],
      },
    ],
    // constants.py:471 valid_tasks_for
    tasksFor: ['action', 'cron', 'github-pull-request', 'github-push', 'github-release'],
    // constants.py:815 source_env_prefix
    envPrefix: 'SCRIPTWORKER',
    // constants.py:592 cot_restricted_scopes
    restrictedScopes: {
      'project:scriptworker:dockerhub:production': 'scriptworker-scripts-repo',
      'project:scriptworker:pypi:production': 'all-production-repos',
    },
    // constants.py:736 cot_restricted_trees
    restrictedTrees: {
      'scriptworker-scripts-repo': ['/mozilla-releng/scriptworker-scripts'],
      'all-production-repos': ['/mozilla-releng/scriptworker', '/mozilla-releng/scriptworker-scripts'],
    },
    // constants.py:796 prebuilt_docker_image_task_types
    prebuiltDockerImageTaskTypes: ['decision', 'action', 'docker-image'],
    // constants.py:508 official_github_repos_owner
    githubOwner: 'mozilla-releng',
    scriptworkerKinds: SCRIPTWORKER_KINDS,
  },
  thunderbird: {
    // constants.py:150 cot_product_type
    productType: 'hg',
    // constants.py:394 trusted_vcs_rules
    trustedRepositories: [
      {
        schemes: ['https', 'ssh'],
        hosts: ['hg.mozilla.org'],
        pathPatterns: [
          '^(?<path>/comm-central)(/|$)',
          '^(?<path>/releases/comm-(beta|release|esr\\d+))(/|$)',
        ],
      },
    ],
    // constants.py:478 valid_tasks_for
    tasksFor: ['hg-push', 'cron', 'action'],
    // constants.py:816 source_env_prefix
    envPrefix: 'COMM',
    // constants.py:598 cot_restricted_scopes
    restrictedScopes: {
      'project:comm:thunderbird:releng:balrog:server:nightly': 'all-nightly-branches',
      'project:comm:thunderbird:releng:balrog:server:beta': 'beta',
      'project:comm:thunderbird:releng:balrog:server:release': 'release-or-esr',
      'project:comm:thunderbird:releng:balrog:server:esr': 'esr',
      'project:comm:thunderbird:releng:beetmover:bucket:nightly': 'all-nightly-branches',
      'project:comm:thunderbird:releng:beetmover:bucket:release': 'all-release-branches',
      'project:comm:thunderbird:releng:bouncer:server:production': 'all-nightly-branches',
      'project:comm:thunderbird:releng:signing:cert:nightly-signing': 'all-nightly-branches',
      'project:comm:thunderbird:releng:signing:cert:release-signing': 'all-release-branches',
      'project:comm:thunderbird:releng:flathub:beta': 'beta',
      'project:comm:thunderbird:releng:flathub:stable': 'release-or-esr',
      'project:comm:thunderbird:releng:flathub:beta:org.mozilla.Thunderbird': 'beta',
      'project:comm:thunderbird:releng:flathub:stable:org.mozilla.Thunderbird': 'release-or-esr',
      'project:comm:thunderbird:releng:flathub:beta:org.mozilla.thunderbird': 'beta',
      'project:comm:thunderbird:releng:flathub:stable:org.mozilla.thunderbird': 'release',
      'project:comm:thunderbird:releng:flathub:stable:org.mozilla.thunderbird_esr': 'esr',
      'project:comm:thunderbird:releng:microsoftstore:beta': 'beta',
      'project:comm:thunderbird:releng:microsoftstore:release': 'release',
      'project:comm:thunderbird:releng:microsoftstore:esr': 'esr',
    },
    // constants.py:745 cot_restricted_trees
    restrictedTrees: {
      'all-release-branches': [
        '/releases/comm-beta',
        '/releases/comm-release',
        '/releases/comm-esr115',
        '/releases/comm-esr140',
        '/releases/comm-esr153',
      ],
      beta: ['/releases/comm-beta'],
      release: ['/releases/comm-release'],
      'release-or-esr': [
        '/releases/comm-release',
        '/releases/comm-esr115',
        '/releases/comm-esr140',
        '/releases/comm-esr153',
      ],
      esr: ['/releases/comm-esr115', '/releases/comm-esr140', '/releases/comm-esr153'],
      'all-nightly-branches': [
        '/comm-central',
        '/releases/comm-beta',
        '/releases/comm-release',
        '/releases/comm-esr115',
        '/releases/comm-esr140',
        '/releases/comm-esr153',
      ],
      nightly: ['/comm-central'],
    },
    // constants.py:797 prebuilt_docker_image_task_types
    prebuiltDockerImageTaskTypes: ['decision', 'action', 'docker-image'],
    // constants.py:509 official_github_repos_owner
    githubOwner: '',
    scriptworkerKinds: SCRIPTWORKER_KINDS,
  },
  translations: {
    // constants.py:151 cot_product_type
    productType: 'github',
    // constants.py:406 trusted_vcs_rules
    trustedRepositories: [
      {
        schemes: ['https', 'ssh'],
        hosts: ['github.com'],
        pathPatterns: ['^(?<path>/mozilla/translations)(/|.git|$)'],
      },
    ],
    // constants.py:479 valid_tasks_for
    tasksFor: ['action', 'cron', 'github-pull-request', 'github-push', 'pr-action'],
    // constants.py:817 source_env_prefix
    envPrefix: 'TRANSLATIONS',
    // constants.py:621 cot_restricted_scopes
    restrictedScopes: { 'project:translations:releng:beetmover:bucket:release': 'translations-repo' },
    // constants.py:774 cot_restricted_trees
    restrictedTrees: { 'translations-repo': ['/mozilla/translations'] },
    // constants.py:798 prebuilt_docker_image_task_types
    prebuiltDockerImageTaskTypes: 'any',
    // constants.py:510 official_github_repos_owner
    githubOwner: 'mozilla',
    scriptworkerKinds: SCRIPTWORKER_KINDS,
  },
  xpi: {
    // constants.py:152 cot_product_type
    productType: 'github',
    // constants.py:415 trusted_vcs_rules
    trustedRepositories: [
      {
        schemes: ['https', 'ssh'],
        hosts: ['github.com'],
        pathPatterns: ['^(?<path>/mozilla-extensions/xpi-manifest)(/|.git|$)'],
      },
    ],
    // constants.py:486 valid_tasks_for
    tasksFor: ['action', 'cron', 'github-pull-request', 'github-push', 'github-release'],
    // constants.py:818 source_env_prefix
    envPrefix: 'XPI',
    // constants.py:626 cot_restricted_scopes
    restrictedScopes: {
      'project:xpi:signing:cert:release-signing': 'xpi-manifest-repo',
      'project:xpi:releng:github:project:mozilla-extensions/*': 'xpi-manifest-repo',
      'project:xpi:ship-it:production': 'xpi-manifest-repo',
      'project:xpi:beetmover:bucket:release': 'xpi-manifest-repo',
      'project:xpi:balrog:server:release': 'xpi-manifest-repo',
    },
    // constants.py:779 cot_restricted_trees
    restrictedTrees: { 'xpi-manifest-repo': ['/mozilla-extensions/xpi-manifest'] },
    // constants.py:799 prebuilt_docker_image_task_types
    prebuiltDockerImageTaskTypes: 'any',
    // constants.py:511 official_github_repos_owner
    githubOwner: 'mozilla-extensions',
    scriptworkerKinds: SCRIPTWORKER_KINDS,
  },
};
