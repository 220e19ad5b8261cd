<?php
/* pressfs compat drop-in fixture: the page-cache drop-in its settings page installs. */
