"""Words of amoCRM's Connect button, its page, and the consent callback's refusals."""

MESSAGES = {
    "oauth.title": ("Подключение amoCRM", "Connect amoCRM"),
    "oauth.lead": (
        "Synkro получает доступ к аккаунту через страницу согласия amoCRM: вы входите в amoCRM, "
        "нажимаете «Разрешить» и возвращаетесь сюда. Ключи доступа хранятся зашифрованными.",
        "Synkro gets access to the account through amoCRM's consent page: you sign in to amoCRM, "
        "press Allow and come back here. The access keys are stored encrypted.",
    ),
    "oauth.connect": ("Подключить amoCRM", "Connect amoCRM"),
    "oauth.reconnect": ("Подключить заново", "Connect again"),
    "oauth.connected_notice": (
        "amoCRM подключена: ключи доступа сохранены.",
        "amoCRM is connected: the access keys are saved.",
    ),
    "oauth.state.none": ("Не подключено", "Not connected"),
    "oauth.state.oauth": ("Подключено через OAuth", "Connected through OAuth"),
    "oauth.state.long_lived": ("Используется долгосрочный токен", "A long-lived token is in use"),
    "oauth.account": ("аккаунт {account}", "account {account}"),
    "oauth.expires": (
        "ключ доступа до {moment}, обновляется сам",
        "access key until {moment}, renewed by itself",
    ),
    "oauth.missing": (
        "Сначала заполните и сохраните в настройках amoCRM: {fields}. Их показывает amoCRM в "
        "настройках интеграции, вкладка «Ключи и доступы».",
        "First fill in and save in the amoCRM settings: {fields}. amoCRM shows them in the "
        "integration's settings, tab “Keys and scopes”.",
    ),
    "oauth.field.subdomain": ("поддомен", "subdomain"),
    "oauth.field.client_id": ("ID интеграции (client_id)", "integration ID (client_id)"),
    "oauth.field.client_secret": ("секретный ключ (client_secret)", "secret key (client_secret)"),
    "oauth.redirect_label": (
        "Адрес перенаправления (Redirect URI) для настроек интеграции в amoCRM",
        "Redirect URI for the integration's settings in amoCRM",
    ),
    "oauth.redirect_hint": (
        "Он должен совпадать в точности, иначе amoCRM не вернёт вас сюда.",
        "It must match exactly, or amoCRM will not send you back here.",
    ),
    "oauth.consent_at": ("Страница согласия: {host}", "Consent page: {host}"),
    "oauth.admin_only": (
        "Подключить amoCRM может администратор компании.",
        "A company admin can connect amoCRM.",
    ),
    "oauth.back": ("К настройкам amoCRM", "Back to the amoCRM settings"),
    "oauth.to_login": ("Войти", "Sign in"),
    "oauth.refused.title": ("amoCRM не подключена", "amoCRM was not connected"),
    "oauth.refused.nothing_saved": (
        "Ничего не сохранено и не изменено.",
        "Nothing was saved or changed.",
    ),
    "oauth.refused.again": (
        "Вернитесь к настройкам и нажмите «Подключить amoCRM» ещё раз.",
        "Go back to the settings and press “Connect amoCRM” again.",
    ),
    "oauth.reason.signed_out": (
        "Вы не вошли в Synkro в этом браузере. Войдите и нажмите «Подключить amoCRM» снова.",
        "You are not signed in to Synkro in this browser. Sign in and press “Connect amoCRM” again.",
    ),
    "oauth.reason.no_state": (
        "В ответе amoCRM нет параметра state: этот адрес открыт не из кнопки «Подключить amoCRM».",
        "amoCRM's answer carries no state: this address was not opened from “Connect amoCRM”.",
    ),
    "oauth.reason.forged": (
        "Параметр state подделан или повреждён.",
        "The state parameter is forged or damaged.",
    ),
    "oauth.reason.unknown": (
        "Этот запрос на подключение неизвестен (возможно, компания удалена).",
        "This connection request is unknown (the company may have been deleted).",
    ),
    "oauth.reason.other_user": (
        "Этот запрос на подключение начал другой пользователь. Подключение завершает тот, кто нажал кнопку.",
        "Another user started this connection request. Only the person who pressed the button can finish it.",
    ),
    "oauth.reason.used": (
        "Этот запрос на подключение уже использован. Каждое подключение — одно нажатие кнопки.",
        "This connection request was already used. Each connection takes one press of the button.",
    ),
    "oauth.reason.expired": (
        "Запрос на подключение устарел: с нажатия кнопки прошло больше 20 минут.",
        "The connection request has expired: more than 20 minutes passed since the button was pressed.",
    ),
    "oauth.reason.denied": (
        "В amoCRM доступ не был разрешён (нажата «Отказать»).",
        "Access was not allowed in amoCRM (Deny was pressed).",
    ),
    "oauth.reason.no_code": (
        "amoCRM не передала код авторизации.",
        "amoCRM sent no authorization code.",
    ),
    "oauth.reason.not_ready": (
        "В настройках amoCRM нет ID интеграции или секретного ключа.",
        "The amoCRM settings lack the integration ID or the secret key.",
    ),
    "oauth.reason.wrong_account": (
        "Доступ выдан в аккаунте {got}, а в настройках указан {expected}. Войдите в amoCRM в "
        "нужный аккаунт или исправьте поддомен.",
        "Access was granted in account {got}, but the settings name {expected}. Sign in to the "
        "right amoCRM account or correct the subdomain.",
    ),
    "oauth.reason.exchange_failed": (
        "amoCRM не приняла код авторизации: {detail}",
        "amoCRM did not accept the authorization code: {detail}",
    ),
    "oauth.not_ready_detail": (
        "Сначала сохраните ID интеграции и секретный ключ amoCRM.",
        "Save amoCRM's integration ID and secret key first.",
    ),
}
