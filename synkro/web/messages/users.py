"""The tenant users page (/t/{slug}/users), for the tenant's admins."""

MESSAGES = {
    "users.nav": ("Пользователи", "Users"),
    "users.title": ("Пользователи", "Users"),
    "users.lead": (
        "Кто работает с этой компанией в Synkro и в какой роли. Администратор — настройки, "
        "пользователи и запуски; наблюдатель — все отчёты и диалоги; менеджер — только свои диалоги.",
        "Who works with this company in Synkro, and in which role. Admin: settings, users and runs; "
        "viewer: every report and dialog; manager: their own dialogs only.",
    ),
    "users.members": ("Роли в компании", "Roles in this company"),
    "users.none": ("Пока никого.", "Nobody yet."),
    "users.you": ("(это вы)", "(you)"),
    "users.change_role": ("Изменить роль", "Change role"),
    "users.reset_password": ("Задать новый пароль", "Set a new password"),
    "users.new_password": ("Новый пароль", "New password"),
    "users.reset_hint": (
        "Не меньше {min} символов. Все открытые сеансы пользователя завершатся; сообщите пароль лично.",
        "At least {min} characters. Every open session of the user ends; hand the password over in person.",
    ),
    "users.remove": ("Убрать из компании", "Remove from company"),
    "users.remove_confirm": ("Убрать {email} из компании?", "Remove {email} from the company?"),
    "users.add": ("Добавить пользователя", "Add a user"),
    "users.add_submit": ("Добавить", "Add"),
    "users.email": ("Эл. почта", "Email"),
    "users.role": ("Роль", "Role"),
    "users.amocrm_user_id": ("ID пользователя amoCRM", "amoCRM user id"),
    "users.amocrm_hint": (
        "Только для менеджера: чьи сделки и диалоги он видит.",
        "Managers only: whose deals and dialogs they see.",
    ),
    "users.initial_password": ("Начальный пароль", "Initial password"),
    "users.initial_password_hint": (
        "Для нового пользователя, не меньше {min} символов. "
        "У существующей учётной записи пароль не меняется.",
        "For a new user, at least {min} characters. An existing account keeps its password.",
    ),
    "users.done.added": ("Пользователь добавлен.", "User added."),
    "users.done.added_existing": (
        "Роль выдана. У этой учётной записи уже был пароль — он не изменён.",
        "Role granted. This account already had a password; it is unchanged.",
    ),
    "users.done.role": ("Роль изменена.", "Role changed."),
    "users.done.removed": ("Пользователь убран из компании.", "User removed from the company."),
    "users.done.password": (
        "Пароль задан; все сеансы пользователя завершены.",
        "Password set; every session of the user has ended.",
    ),
    "users.error.email": (
        "Нужен адрес эл. почты, например name@company.ru.",
        "Enter an email address such as name@company.com.",
    ),
    "users.error.role": (
        "Здесь можно выдать только роли администратора, наблюдателя или менеджера.",
        "Only the admin, viewer or manager role can be granted here.",
    ),
    "users.error.amocrm": (
        "Менеджеру нужен ID пользователя amoCRM (целое положительное число).",
        "A manager needs an amoCRM user id (a positive whole number).",
    ),
    "users.error.password": (
        "Пароль: не меньше {min} символов, без пробелов по краям.",
        "Password: at least {min} characters, no spaces at either end.",
    ),
    "users.error.own": (
        "Свою роль здесь изменить нельзя — попросите другого администратора.",
        "You cannot change your own role here; ask another admin.",
    ),
    "users.error.member": (
        "Этот пользователь уже в компании — измените его роль в списке выше.",
        "This user is in the company already; change their role in the list above.",
    ),
    "users.error.password_elsewhere": (
        "У этой учётной записи есть доступ и вне этой компании: пароль может сбросить "
        "только оператор Synkro.",
        "This account reaches beyond this company: only a Synkro operator can reset its password.",
    ),
}
