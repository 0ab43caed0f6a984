"""What the pages share: the page shell, styles, CSRF, language catalogues, security headers."""
